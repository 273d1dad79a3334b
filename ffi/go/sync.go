package tollgate

/*
#include "tollgate.h"
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// SyncOptions configures how a rate-card pull fetches. Zero fields take the defaults: 30 s
// timeout per attempt, 3 retries from 500 ms (doubling), a 64 MiB limit.
type SyncOptions struct {
	Timeout time.Duration
	// Retries after a network error, timeout, truncated body or 5xx; nil = 3.
	Retries  *uint32
	Backoff  time.Duration
	MaxBytes uint64
}

func (o *SyncOptions) raw() C.tg_sync_options {
	r := C.tg_sync_options_default()
	if o == nil {
		return r
	}
	if o.Timeout != 0 {
		r.timeout_ms = C.uint64_t(o.Timeout.Milliseconds())
	}
	if o.Retries != nil {
		r.retries = C.uint32_t(*o.Retries)
	}
	if o.Backoff != 0 {
		r.backoff_ms = C.uint64_t(o.Backoff.Milliseconds())
	}
	if o.MaxBytes != 0 {
		r.max_bytes = C.uint64_t(o.MaxBytes)
	}
	return r
}

// PublishedCard is one card a pull published, with its diff against the card in force
// before it (registry keys).
type PublishedCard struct {
	// Content is the SHA-256 of the registry file (hex).
	Content         string   `json:"content"`
	EffectiveFromMs int64    `json:"effectiveFromMs"`
	Snapshot        string   `json:"snapshot"`
	From            string   `json:"from"`
	Added           []string `json:"added"`
	Removed         []string `json:"removed"`
	Repriced        []string `json:"repriced"`
}

// SyncReport is what a pull did: Outcome "not_modified" (HTTP 304), "unchanged" (the prices
// equal the card in force) or "published".
type SyncReport struct {
	Source    string          `json:"source"`
	Outcome   string          `json:"outcome"`
	Published []PublishedCard `json:"published"`
}

// RateCardHistoryEntry is one card published into a data directory.
type RateCardHistoryEntry struct {
	EffectiveFromMs int64  `json:"effectiveFromMs"`
	Content         string `json:"content"`
	Models          int    `json:"models"`
}

// PullRateCard pulls a registry into a durable engine now: source is an http(s) URL
// (conditional requests, retries with backoff, a size limit), a directory of dated registry
// files or a file; "" is LiteLLM's public registry. The whole file is validated before
// anything is published. A bad registry publishes nothing and the error says why
// (ErrRateCard; ErrIO for HTTP and network failures; ErrLimit when too large); an in-memory
// engine is ErrMisuse.
func (e *Engine) PullRateCard(source string, opts *SyncOptions) (*SyncReport, error) {
	src := []byte(source)
	raw := opts.raw()
	var report *C.tg_sync_report
	err := e.status(func(p *C.tg_engine, cerr *C.tg_error) C.int32_t {
		sp, sn := bytesPtr(src)
		return C.tg_ratecard_pull(p, sp, sn, &raw, &report, cerr)
	})
	if err != nil {
		return nil, err
	}
	defer C.tg_sync_report_free(report)
	out, err := callBuffered(1<<16, func(o *C.uint8_t, cap C.size_t, n *C.size_t, cerr *C.tg_error) C.int32_t {
		return C.tg_sync_report_json(report, o, cap, n, cerr)
	})
	if err != nil {
		return nil, err
	}
	var r SyncReport
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("tollgate: decoding sync report: %w", err)
	}
	return &r, nil
}

// RateCardHistory lists the cards published into a durable engine's data directory, oldest
// first.
func (e *Engine) RateCardHistory() ([]RateCardHistoryEntry, error) {
	var out []byte
	err := e.use(func(p *C.tg_engine) error {
		var err error
		out, err = callBuffered(1024, func(o *C.uint8_t, cap C.size_t, n *C.size_t, cerr *C.tg_error) C.int32_t {
			return C.tg_ratecard_history_json(p, o, cap, n, cerr)
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	var r struct {
		Cards []RateCardHistoryEntry `json:"cards"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("tollgate: decoding history: %w", err)
	}
	return r.Cards, nil
}

// Refresher pulls a source into a durable engine's data directory in the background (once
// at start, then every interval plus jitter) until Stop; Engine.Close stops it first.
type Refresher struct {
	mu     sync.Mutex
	p      *C.tg_refresher
	engine *Engine
}

// RefresherStatus is what a refresher has done: Pulls finished, and the last one's result
// (Last nil before the first: then OK and Report, or Status and Error saying why nothing was
// published).
type RefresherStatus struct {
	Pulls uint64 `json:"pulls"`
	Last  *struct {
		OK     bool        `json:"ok"`
		Report *SyncReport `json:"report"`
		Status Status      `json:"status"`
		Error  string      `json:"error"`
	} `json:"last"`
}

// StartRefresher starts pulling source (as PullRateCard) on a background thread: once now,
// then every interval plus a random part of jitter (0, 0: every 24 hours plus up to 15
// minutes). interval is at least a second.
func (e *Engine) StartRefresher(source string, opts *SyncOptions, interval, jitter time.Duration) (*Refresher, error) {
	src := []byte(source)
	raw := opts.raw()
	var p *C.tg_refresher
	err := e.status(func(ep *C.tg_engine, cerr *C.tg_error) C.int32_t {
		sp, sn := bytesPtr(src)
		return C.tg_refresher_start(ep, sp, sn, &raw, C.uint64_t(interval.Milliseconds()), C.uint64_t(jitter.Milliseconds()), &p, cerr)
	})
	if err != nil {
		return nil, err
	}
	r := &Refresher{p: p, engine: e}
	e.rmu.Lock()
	if e.refreshers == nil {
		e.refreshers = map[*Refresher]struct{}{}
	}
	e.refreshers[r] = struct{}{}
	e.rmu.Unlock()
	return r, nil
}

// Status reports what the refresher has done; ErrInvalidHandle once stopped.
func (r *Refresher) Status() (*RefresherStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.p == nil {
		return nil, &Error{Status: ErrInvalidHandle, Message: "refresher is stopped"}
	}
	out, err := callBuffered(1024, func(o *C.uint8_t, cap C.size_t, n *C.size_t, cerr *C.tg_error) C.int32_t {
		return C.tg_refresher_status_json(r.p, o, cap, n, cerr)
	})
	if err != nil {
		return nil, err
	}
	var s RefresherStatus
	if err := json.Unmarshal(out, &s); err != nil {
		return nil, fmt.Errorf("tollgate: decoding refresher status: %w", err)
	}
	return &s, nil
}

// Stop stops the refresher, waiting for a pull in progress. Stopping twice is a no-op.
func (r *Refresher) Stop() {
	r.mu.Lock()
	p := r.p
	r.p = nil
	r.mu.Unlock()
	if p == nil {
		return
	}
	C.tg_refresher_stop(p)
	r.engine.rmu.Lock()
	delete(r.engine.refreshers, r)
	r.engine.rmu.Unlock()
}

func (e *Engine) stopRefreshers() {
	e.rmu.Lock()
	rs := make([]*Refresher, 0, len(e.refreshers))
	for r := range e.refreshers {
		rs = append(rs, r)
	}
	e.rmu.Unlock()
	for _, r := range rs {
		r.Stop()
	}
}
