package tollgate

/*
#include "tollgate.h"
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"time"
)

// SnapshotInfo describes one published rate-card snapshot.
type SnapshotInfo struct {
	// ID is the content id: 16 hex digits of the SHA-256 of the registry bytes.
	ID string
	// EffectiveFrom is when the snapshot takes effect (UTC, millisecond precision).
	EffectiveFrom time.Time
	Models        int
}

// UnmarshalJSON reads one entry of tg_engine_snapshots_json.
func (s *SnapshotInfo) UnmarshalJSON(b []byte) error {
	var raw struct {
		ID              string `json:"id"`
		EffectiveFromMs int64  `json:"effectiveFromMs"`
		Models          int    `json:"models"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*s = SnapshotInfo{ID: raw.ID, EffectiveFrom: time.UnixMilli(raw.EffectiveFromMs).UTC(), Models: raw.Models}
	return nil
}

func (e *Engine) status(call func(p *C.tg_engine, cerr *C.tg_error) C.int32_t) error {
	return e.use(func(p *C.tg_engine) error {
		var cerr C.tg_error
		if s := call(p, &cerr); s != C.TG_OK {
			return newError(s, &cerr)
		}
		return nil
	})
}

// PublishRateCard publishes a LiteLLM-format registry effective from effectiveFrom
// (millisecond precision; before 1970 is ErrInvalidInput) and returns the new snapshot's id. A bad card fails with ErrRateCard and
// changes nothing; readers pricing concurrently never block.
func (e *Engine) PublishRateCard(card []byte, effectiveFrom time.Time) (string, error) {
	var id C.uint64_t
	err := e.status(func(p *C.tg_engine, cerr *C.tg_error) C.int32_t {
		ptr, n := bytesPtr(card)
		return C.tg_engine_publish_rate_card(p, ptr, n, C.int64_t(effectiveFrom.UnixMilli()), &id, cerr)
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%016x", uint64(id)), nil
}

// PublishResult is what PublishRateCardReport published: the snapshot's id and the
// registry's warnings, one per field that looks like a rate but matches no rate name the
// engine knows (accepted, so one new LiteLLM field does not block an update, but unused for
// pricing).
type PublishResult struct {
	Snapshot string   `json:"snapshot"`
	Warnings []string `json:"warnings"`
}

// PublishRateCardReport is PublishRateCard returning the registry's warnings too. A buffer
// retry never publishes twice: the engine checks the output size before publishing.
func (e *Engine) PublishRateCardReport(card []byte, effectiveFrom time.Time) (*PublishResult, error) {
	var out []byte
	err := e.use(func(p *C.tg_engine) error {
		ptr, n := bytesPtr(card)
		var err error
		out, err = callBuffered(256, func(o *C.uint8_t, cap C.size_t, on *C.size_t, cerr *C.tg_error) C.int32_t {
			return C.tg_engine_publish_rate_card_json(p, ptr, n, C.int64_t(effectiveFrom.UnixMilli()), o, cap, on, cerr)
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	var r PublishResult
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("tollgate: decoding publish result: %w", err)
	}
	return &r, nil
}

// Snapshots lists the published snapshots, oldest first.
func (e *Engine) Snapshots() ([]SnapshotInfo, error) {
	var out []byte
	err := e.use(func(p *C.tg_engine) error {
		var err error
		out, err = callBuffered(256, func(o *C.uint8_t, cap C.size_t, n *C.size_t, cerr *C.tg_error) C.int32_t {
			return C.tg_engine_snapshots_json(p, o, cap, n, cerr)
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	var r struct {
		Snapshots []SnapshotInfo `json:"snapshots"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("tollgate: decoding snapshots: %w", err)
	}
	return r.Snapshots, nil
}

// SetOverride sets custom prices for model: entry is one registry entry object as JSON
// (`{"input_cost_per_token": 2e-06, "output_cost_per_token": 8e-06}`). It applies over every
// snapshot and survives publishes.
func (e *Engine) SetOverride(model string, entry []byte) error {
	m := []byte(model)
	return e.status(func(p *C.tg_engine, cerr *C.tg_error) C.int32_t {
		mp, mn := bytesPtr(m)
		ep, en := bytesPtr(entry)
		return C.tg_engine_set_override(p, mp, mn, ep, en, cerr)
	})
}

// RemoveOverride removes the override of model, reporting whether there was one.
func (e *Engine) RemoveOverride(model string) (bool, error) {
	m := []byte(model)
	var removed C.uint32_t
	err := e.status(func(p *C.tg_engine, cerr *C.tg_error) C.int32_t {
		mp, mn := bytesPtr(m)
		return C.tg_engine_remove_override(p, mp, mn, &removed, cerr)
	})
	return removed == 1, err
}

// Snapshot is a pinned rate-card snapshot: it prices with exactly one card (and the
// overrides at pin time) whatever the event timestamps, and outlives its Engine. Safe for
// concurrent use; Close releases it once no call is in progress.
type Snapshot struct {
	mu            sync.RWMutex
	p             *C.tg_snapshot
	ID            string
	EffectiveFrom time.Time
}

// Pin pins the published snapshot id ("" = the one in force now).
func (e *Engine) Pin(id string) (*Snapshot, error) {
	var want uint64
	if id != "" {
		v, err := strconv.ParseUint(id, 16, 64)
		if err != nil {
			return nil, &Error{Status: ErrInvalidInput, Message: "snapshot id: not 16 hex digits"}
		}
		want = v
	}
	var p *C.tg_snapshot
	err := e.status(func(ep *C.tg_engine, cerr *C.tg_error) C.int32_t {
		return C.tg_snapshot_pin(ep, C.uint64_t(want), &p, cerr)
	})
	if err != nil {
		return nil, err
	}
	var sid C.uint64_t
	var from C.int64_t
	C.tg_snapshot_info(p, &sid, &from, nil)
	s := &Snapshot{p: p, ID: fmt.Sprintf("%016x", uint64(sid)), EffectiveFrom: time.UnixMilli(int64(from)).UTC()}
	runtime.SetFinalizer(s, (*Snapshot).Close)
	return s, nil
}

func (s *Snapshot) use(f func(p *C.tg_snapshot) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.p == nil {
		return &Error{Status: ErrInvalidHandle, Message: "snapshot is unpinned"}
	}
	return f(s.p)
}

// PriceJSON prices one event record with the pinned snapshot.
func (s *Snapshot) PriceJSON(event []byte) (*PriceResult, error) {
	var out []byte
	err := s.use(func(p *C.tg_snapshot) error {
		ev, evLen := bytesPtr(event)
		var err error
		out, err = callBuffered(512, func(o *C.uint8_t, cap C.size_t, n *C.size_t, cerr *C.tg_error) C.int32_t {
			return C.tg_snapshot_price_json(p, ev, evLen, o, cap, n, cerr)
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return decodePrice(out)
}

// PriceBatch prices many items with the pinned snapshot in one C call.
func (s *Snapshot) PriceBatch(items []PriceItem) ([]PriceOut, error) {
	results := make([]PriceOut, len(items))
	b := NewBatch()
	err := s.use(func(p *C.tg_snapshot) error {
		return b.run(items, results, nil, p)
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// Close unpins the snapshot (io.Closer), waiting for calls in progress; twice is a no-op.
func (s *Snapshot) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	C.tg_snapshot_unpin(s.p)
	s.p = nil
	return nil
}
