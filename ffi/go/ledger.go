package tollgate

/*
#include "tollgate.h"
*/
import "C"

import (
	"encoding/json"
	"fmt"
)

// RecordOutMax bounds the output of one track, resolve or customer call (C TG_RECORD_OUT_MAX).
const RecordOutMax = C.TG_RECORD_OUT_MAX

// IngestResult is what happened to one tracked event, resolution or customer change. Status
// is "accepted", "duplicate" or "conflict" (and, only among TrackResponse results,
// "rejected" for a line item the ledger refused while the others applied).
// For "accepted", Priced is false when the event's LLM part could not be priced and Reason
// then says why ("unknown_model" or "no_token_price", as Price reports it; "" when priced);
// for "conflict", Reason is the conflict's text.
type IngestResult struct {
	Status       string   `json:"status"`
	CostCents    string   `json:"costCents,omitempty"`
	RevenueCents string   `json:"revenueCents,omitempty"`
	Priced       bool     `json:"priced,omitempty"`
	Snapshot     *string  `json:"snapshot,omitempty"`
	Warnings     []string `json:"warnings,omitempty"`
	Reason       string   `json:"reason,omitempty"`
	Kind         string   `json:"kind,omitempty"`
	Field        string   `json:"field,omitempty"`
	Error        string   `json:"error,omitempty"`
}

type recordFn func(*C.tg_engine, *C.uint8_t, C.size_t, *C.uint8_t, C.size_t, *C.size_t, *C.tg_error) C.int32_t

func (e *Engine) record(fn recordFn, record []byte) (*IngestResult, error) {
	var out []byte
	err := e.use(func(p *C.tg_engine) error {
		rp, rn := bytesPtr(record)
		var err error
		out, err = callBuffered(RecordOutMax, func(o *C.uint8_t, cap C.size_t, n *C.size_t, cerr *C.tg_error) C.int32_t {
			return fn(p, rp, rn, o, cap, n, cerr)
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	var r IngestResult
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("tollgate: decoding result: %w", err)
	}
	return &r, nil
}

// TrackJSON is Track for an event record already in JSON form. A rejected event
// is an error (ErrInvalidInput, ErrTooLate, ErrOverflow) and changes nothing.
func (e *Engine) TrackJSON(event []byte) (*IngestResult, error) {
	return e.record(func(p *C.tg_engine, r *C.uint8_t, rn C.size_t, o *C.uint8_t, cap C.size_t, n *C.size_t, cerr *C.tg_error) C.int32_t {
		return C.tg_track_json(p, r, rn, o, cap, n, cerr)
	}, event)
}

// ResolveJSON is Resolve for a record in JSON form: {"runId","customerId","outcome","revenueUnitCents"?,"timestamp"?}.
func (e *Engine) ResolveJSON(record []byte) (*IngestResult, error) {
	return e.record(func(p *C.tg_engine, r *C.uint8_t, rn C.size_t, o *C.uint8_t, cap C.size_t, n *C.size_t, cerr *C.tg_error) C.int32_t {
		return C.tg_resolve_json(p, r, rn, o, cap, n, cerr)
	}, record)
}

// UpsertCustomerJSON is UpsertCustomer for a record in JSON form: {"customerId","name"?,"seats"?,"plan"?,"timestamp"?}.
func (e *Engine) UpsertCustomerJSON(record []byte) (*IngestResult, error) {
	return e.record(func(p *C.tg_engine, r *C.uint8_t, rn C.size_t, o *C.uint8_t, cap C.size_t, n *C.size_t, cerr *C.tg_error) C.int32_t {
		return C.tg_upsert_customer_json(p, r, rn, o, cap, n, cerr)
	}, record)
}

func decodeResults(out []byte) ([]IngestResult, error) {
	var r struct {
		Results []IngestResult `json:"results"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("tollgate: decoding results: %w", err)
	}
	return r.Results, nil
}

// TrackResponse reads the usage off a raw provider response (see ExtractUsage) and tracks one
// event per line item with context, a JSON object of customerId, runId, agentId,
// idempotencyKey, timestamp, revenueUnitCents, units, outcome, externalCostCents (nil: none).
func (e *Engine) TrackResponse(provider string, body []byte, context []byte, model string) ([]IngestResult, error) {
	pv, m := []byte(provider), []byte(model)
	var out []byte
	err := e.use(func(p *C.tg_engine) error {
		pp, pn := bytesPtr(pv)
		mp, mn := bytesPtr(m)
		bp, bn := bytesPtr(body)
		cp, cn := bytesPtr(context)
		var err error
		out, err = callBuffered(16+RecordOutMax, func(o *C.uint8_t, cap C.size_t, n *C.size_t, cerr *C.tg_error) C.int32_t {
			return C.tg_track_response(p, pp, pn, mp, mn, bp, bn, cp, cn, o, cap, n, cerr)
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return decodeResults(out)
}

// TrackStream is TrackResponse for a response read through a Stream (it finishes the stream).
func (e *Engine) TrackStream(s *Stream, context []byte) ([]IngestResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil {
		return nil, &Error{Status: ErrInvalidHandle, Message: "stream is closed"}
	}
	var out []byte
	err := e.use(func(p *C.tg_engine) error {
		cp, cn := bytesPtr(context)
		var err error
		out, err = callBuffered(16+RecordOutMax, func(o *C.uint8_t, cap C.size_t, n *C.size_t, cerr *C.tg_error) C.int32_t {
			return C.tg_stream_track(p, s.p, cp, cn, o, cap, n, cerr)
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return decodeResults(out)
}

// MarginRow is one row of a margin query: the numbers (amounts as exact decimal strings of
// cents) plus the row's group keys (nil when the dimension has no value for that money).
type MarginRow struct {
	CustomerID               *string `json:"customerId"`
	RunID                    *string `json:"runId"`
	AgentID                  *string `json:"agentId"`
	Model                    *string `json:"model"`
	Provider                 *string `json:"provider"`
	Day                      *string `json:"day"`
	RevenueCents             string  `json:"revenueCents"`
	UsageRevenueCents        string  `json:"usageRevenueCents"`
	OutcomeRevenueCents      string  `json:"outcomeRevenueCents"`
	SubscriptionRevenueCents string  `json:"subscriptionRevenueCents"`
	CostCents                string  `json:"costCents"`
	MarginCents              string  `json:"marginCents"`
	MarginPct                *string `json:"marginPct"`
	Events                   uint64  `json:"events"`
	UnpricedEvents           uint64  `json:"unpricedEvents"`
	Runs                     struct {
		Open, Resolved, Escalated, Failed uint64
	} `json:"runs"`
	// Tokens are the row's token totals.
	Tokens struct {
		TokensIn, CachedTokens, CacheWrite5mTokens, CacheWrite1hTokens, TokensOut, ReasoningTokens uint64
	} `json:"tokens"`
}

// Margin answers a margin query: a JSON object of optional filters (customerId, runId,
// agentId, model, provider, from, to) and groupBy dimensions (nil: totals of everything).
func (e *Engine) Margin(query []byte) ([]MarginRow, error) {
	var out []byte
	err := e.use(func(p *C.tg_engine) error {
		qp, qn := bytesPtr(query)
		var err error
		out, err = callBuffered(4096, func(o *C.uint8_t, cap C.size_t, n *C.size_t, cerr *C.tg_error) C.int32_t {
			return C.tg_margin_query_json(p, qp, qn, o, cap, n, cerr)
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	var r struct {
		Rows []MarginRow `json:"rows"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("tollgate: decoding margin rows: %w", err)
	}
	return r.Rows, nil
}

// CustomerMargin is a customer's current margin, exact.
type CustomerMargin struct {
	RevenueCents, UsageRevenueCents, OutcomeRevenueCents, SubscriptionRevenueCents Cents
	CostCents, MarginCents                                                         Cents
	// MarginPctHundredths is the margin as hundredths of a percent (7000 = 70.00 %), rounded
	// half-even; HasMarginPct is false when revenue is 0.
	MarginPctHundredths int64
	HasMarginPct        bool
	Events              uint64
	UnpricedEvents      uint64
	RunsOpen            uint64
	RunsResolved        uint64
	RunsEscalated       uint64
	RunsFailed          uint64
}

func centsOf(d C.tg_decimal) Cents { return Cents{Hi: int64(d.hi), Lo: uint64(d.lo)} }

// CustomerMargin is a customer's current margin in O(1) (for enforcement in a request path);
// ErrNotFound for a customer the ledger has never seen.
func (e *Engine) CustomerMargin(customerID string) (*CustomerMargin, error) {
	id := []byte(customerID)
	var m C.tg_margin
	err := e.status(func(p *C.tg_engine, cerr *C.tg_error) C.int32_t {
		ip, in := bytesPtr(id)
		return C.tg_customer_margin(p, ip, in, &m, cerr)
	})
	if err != nil {
		return nil, err
	}
	return &CustomerMargin{
		RevenueCents:             centsOf(m.revenue_cents),
		UsageRevenueCents:        centsOf(m.usage_revenue_cents),
		OutcomeRevenueCents:      centsOf(m.outcome_revenue_cents),
		SubscriptionRevenueCents: centsOf(m.subscription_revenue_cents),
		CostCents:                centsOf(m.cost_cents),
		MarginCents:              centsOf(m.margin_cents),
		MarginPctHundredths:      int64(m.margin_pct_hundredths),
		HasMarginPct:             int64(m.margin_pct_hundredths) != C.TG_MARGIN_PCT_NONE,
		Events:                   uint64(m.events),
		UnpricedEvents:           uint64(m.unpriced_events),
		RunsOpen:                 uint64(m.runs_open),
		RunsResolved:             uint64(m.runs_resolved),
		RunsEscalated:            uint64(m.runs_escalated),
		RunsFailed:               uint64(m.runs_failed),
	}, nil
}

// StateSave returns the whole ledger state as versioned, checksummed bytes (for
// StateRestore).
func (e *Engine) StateSave() ([]byte, error) {
	var out []byte
	err := e.use(func(p *C.tg_engine) error {
		var err error
		out, err = callBuffered(1<<16, func(o *C.uint8_t, cap C.size_t, n *C.size_t, cerr *C.tg_error) C.int32_t {
			return C.tg_state_save(p, o, cap, n, cerr)
		})
		return err
	})
	return out, err
}

// StateSnapshot is the former name of StateSave.
//
// Deprecated: use StateSave ("snapshot" names rate-card snapshots only).
func (e *Engine) StateSnapshot() ([]byte, error) { return e.StateSave() }

// StateRestore replaces the ledger with restored state; bad bytes fail with ErrState and
// load nothing.
func (e *Engine) StateRestore(state []byte) error {
	return e.status(func(p *C.tg_engine, cerr *C.tg_error) C.int32_t {
		sp, sn := bytesPtr(state)
		return C.tg_state_restore(p, sp, sn, cerr)
	})
}
