package tollgate

/*
#include <stdlib.h>
#include "tollgate.h"
*/
import "C"

import (
	"encoding/json"
	"runtime"
	"time"
	"unsafe"
)

// Durability says when a durable engine's journal is fsync'ed.
type Durability int32

const (
	// DurabilitySync fsyncs every record before its call returns; concurrent callers share
	// fsyncs (group commit).
	DurabilitySync Durability = C.TG_DURABILITY_SYNC
	// DurabilityInterval fsyncs every StoreOptions.Interval; a crash loses at most the calls
	// of the last interval plus one write and fsync.
	DurabilityInterval Durability = C.TG_DURABILITY_INTERVAL
	// DurabilityNone writes every 50 ms and never fsyncs.
	DurabilityNone Durability = C.TG_DURABILITY_NONE
)

// StoreOptions configures OpenEngine. The zero value is sync durability with the defaults.
type StoreOptions struct {
	Durability Durability
	// Interval between fsyncs in DurabilityInterval mode (default 100 ms).
	Interval time.Duration
	// DedupeWindow of a new directory's ledger (0 = the default 24 hours).
	DedupeWindow time.Duration
	// DedupeForever keeps a new directory's idempotency keys forever.
	DedupeForever bool
	// CheckpointBytes of journal that start a background checkpoint (0 = the default
	// 256 MiB; negative = only explicit Checkpoint calls).
	CheckpointBytes int64
}

// OpenEngine opens (creating if needed) the data directory dir as a durable engine: every
// ledger record, rate-card publish and override is journaled before its call returns and is
// recovered when the directory is opened again. One process owns a directory at a time: a
// second opener gets ErrLocked; a damaged directory is ErrState (nothing is changed).
func OpenEngine(dir string, opts *StoreOptions) (*Engine, error) {
	o := C.tg_store_options_default()
	if opts != nil {
		o.durability = C.int32_t(opts.Durability)
		if opts.Interval != 0 {
			o.interval_ms = C.int64_t(opts.Interval.Milliseconds())
		}
		switch {
		case opts.DedupeForever:
			o.dedupe_window_ms = 0
		case opts.DedupeWindow != 0:
			o.dedupe_window_ms = C.int64_t(opts.DedupeWindow.Milliseconds())
		}
		switch {
		case opts.CheckpointBytes < 0:
			o.checkpoint_bytes = 0
		case opts.CheckpointBytes > 0:
			o.checkpoint_bytes = C.int64_t(opts.CheckpointBytes)
		}
	}
	cdir := C.CString(dir)
	defer C.free(unsafe.Pointer(cdir))
	var e *C.tg_engine
	var cerr C.tg_error
	if s := C.tg_engine_open((*C.uint8_t)(unsafe.Pointer(cdir)), C.size_t(len(dir)), &o, &e, &cerr); s != C.TG_OK {
		return nil, newError(s, &cerr)
	}
	out := &Engine{p: e}
	runtime.SetFinalizer(out, (*Engine).Close)
	return out, nil
}

// Checkpoint writes a checkpoint of a durable engine and drops the journal before it
// (writers wait only for a file switch). ErrMisuse on an in-memory engine.
func (e *Engine) Checkpoint() error {
	return e.use(func(p *C.tg_engine) error {
		var cerr C.tg_error
		if s := C.tg_engine_checkpoint(p, &cerr); s != C.TG_OK {
			return newError(s, &cerr)
		}
		return nil
	})
}

// Flush writes and fsyncs what a durable engine has buffered (interval / none modes).
func (e *Engine) Flush() error {
	return e.use(func(p *C.tg_engine) error {
		var cerr C.tg_error
		if s := C.tg_engine_flush(p, &cerr); s != C.TG_OK {
			return newError(s, &cerr)
		}
		return nil
	})
}

// TornTail is the end of the journal recovery cut off (what a crash mid-write leaves).
type TornTail struct {
	Path     string `json:"path"`
	Offset   uint64 `json:"offset"`
	BytesCut uint64 `json:"bytesCut"`
	Reason   string `json:"reason"`
}

// Recovery is what recovery did when a durable engine was opened.
type Recovery struct {
	// Checkpoint is the segment number of the checkpoint recovery started from, if any.
	Checkpoint *uint64   `json:"checkpoint"`
	Segments   []uint64  `json:"segments"`
	Entries    uint64    `json:"entries"`
	Records    uint64    `json:"records"`
	TornTail   *TornTail `json:"tornTail"`
	RateCards  []struct {
		EffectiveFromMs int64  `json:"effectiveFromMs"`
		Content         string `json:"content"`
	} `json:"rateCards"`
}

// Recovery reports what recovery did when the durable engine was opened, and its published
// rate cards.
func (e *Engine) Recovery() (*Recovery, error) {
	var out []byte
	err := e.use(func(p *C.tg_engine) error {
		var err error
		out, err = callBuffered(512, func(o *C.uint8_t, cap C.size_t, n *C.size_t, cerr *C.tg_error) C.int32_t {
			return C.tg_engine_recovery_json(p, o, cap, n, cerr)
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	var r Recovery
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
