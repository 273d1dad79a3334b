package tollgate

/*
#include "tollgate.h"
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"time"
)

// DecisionJSONMax bounds the JSON of one allow decision (C TG_DECISION_JSON_MAX).
const DecisionJSONMax = C.TG_DECISION_JSON_MAX

// GuardPeriod is the period of a guardrail rule: a UTC day, an ISO week (Monday), a calendar
// month, or all time.
type GuardPeriod string

// The periods of a guardrail rule.
const (
	PeriodDay   GuardPeriod = "day"
	PeriodWeek  GuardPeriod = "week"
	PeriodMonth GuardPeriod = "month"
	PeriodAll   GuardPeriod = "all"
)

// GuardAction is what a policy does when a rule is broken.
type GuardAction string

// The actions of a policy.
const (
	ActionBlock     GuardAction = "block"
	ActionDowngrade GuardAction = "downgrade"
	// ActionAllow lets the call through, flagged (Decision.Flagged).
	ActionAllow GuardAction = "allow"
)

// Limit is an amount of cents per period (a budget, a per-agent cap).
type Limit struct {
	Cents  Cents
	Period GuardPeriod
}

// MinMargin is a minimum margin over a period, applied once the period's revenue and event
// count reach the minimum activity given (so a new customer is not blocked on its first call).
type MinMargin struct {
	// Pct is a percent with at most two decimals ("20", "-5.25").
	Pct             string
	Period          GuardPeriod
	MinRevenueCents *Cents
	MinEvents       uint64
}

// Policy is a guardrail policy (Engine.UpsertPolicy): per customer (CustomerID), per plan
// (PlanName: every customer whose plan in force has that name) or the default (neither).
// Rules not set are absent.
type Policy struct {
	PolicyID        string
	CustomerID      string
	PlanName        string
	Budget          *Limit
	MinMargin       *MinMargin
	MaxRunCostCents *Cents
	MaxAgentCost    *Limit
	// Action on a breach ("" = block).
	Action GuardAction
	// Downgrade maps a model to a cheaper one.
	Downgrade map[string]string
	// DowngradeRule is "first_fit" (default: the first model of the chain that fits) or
	// "next" (only the direct replacement).
	DowngradeRule string
	// Timestamp is when the policy takes effect; zero = the ledger clock.
	Timestamp time.Time
}

func limit(l *Limit) map[string]any {
	return map[string]any{"cents": l.Cents.String(), "period": string(l.Period)}
}

// MarshalJSON writes the policy record.
func (p Policy) MarshalJSON() ([]byte, error) {
	f := fields{"type": "policy"}
	f.str("policyId", p.PolicyID)
	f.str("customerId", p.CustomerID)
	f.str("planName", p.PlanName)
	if p.Budget != nil {
		f["budget"] = limit(p.Budget)
	}
	if m := p.MinMargin; m != nil {
		mm := fields{"pct": m.Pct, "period": string(m.Period)}
		mm.cents("minRevenueCents", m.MinRevenueCents)
		mm.count("minEvents", m.MinEvents)
		f["minMargin"] = map[string]any(mm)
	}
	f.cents("maxRunCostCents", p.MaxRunCostCents)
	if p.MaxAgentCost != nil {
		f["maxAgentCost"] = limit(p.MaxAgentCost)
	}
	f.str("action", string(p.Action))
	if p.Downgrade != nil {
		f["downgrade"] = p.Downgrade
	}
	f.str("downgradeRule", p.DowngradeRule)
	f.time("timestamp", p.Timestamp)
	return json.Marshal(map[string]any(f))
}

// UpsertPolicy creates or changes a guardrail policy, effective from its Timestamp. Status
// "accepted", or "duplicate" for the same terms as the version in force; an invalid policy
// is ErrInvalidInput naming the field ("budget.cents: …") and changes nothing.
func (e *Engine) UpsertPolicy(p Policy) (*IngestResult, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return e.UpsertPolicyJSON(b)
}

// UpsertPolicyJSON is UpsertPolicy for a policy record in JSON form.
func (e *Engine) UpsertPolicyJSON(record []byte) (*IngestResult, error) {
	return e.record(func(p *C.tg_engine, r *C.uint8_t, rn C.size_t, o *C.uint8_t, cap C.size_t, n *C.size_t, cerr *C.tg_error) C.int32_t {
		return C.tg_upsert_policy_json(p, r, rn, o, cap, n, cerr)
	}, record)
}

// AllowRequest is one pre-call question (Engine.Allow).
type AllowRequest struct {
	CustomerID string
	AgentID    string
	RunID      string
	// Model is the model the call would use (for a downgrade, and the model of Usage).
	Model string
	// Provider of Model (helps the lookup of Usage), optional.
	Provider string
	// EstimatedCostCents is the estimate in exact cents; nil = none (or Usage).
	EstimatedCostCents *Cents
	// Usage is the estimate as expected usage of Model, priced by the engine; nil = none.
	Usage *Usage
	// At is the decision time; zero = the engine's clock now.
	At time.Time
	// Reserve holds the estimate when the call may go ahead, until Settle, Release or TTL.
	Reserve bool
	// TTL of the reservation (0 = the default, 10 minutes; at most 24 hours).
	TTL time.Duration
}

func (r *AllowRequest) json() ([]byte, error) {
	f := fields{"customerId": r.CustomerID}
	f.str("agentId", r.AgentID)
	f.str("runId", r.RunID)
	f.str("model", r.Model)
	f.cents("estimateCents", r.EstimatedCostCents)
	if r.Usage != nil {
		u := fields{}
		r.Usage.put(u)
		u.str("model", r.Model)
		u.str("provider", r.Provider)
		f["estimate"] = map[string]any(u)
	}
	if !r.At.IsZero() {
		f["atMs"] = r.At.UnixMilli()
	}
	if r.Reserve {
		f["reserve"] = true
	}
	if r.TTL != 0 {
		f["ttlMs"] = r.TTL.Milliseconds()
	}
	return json.Marshal(map[string]any(f))
}

// Verdict is what a Decision says to do.
type Verdict string

// The verdicts of a Decision.
const (
	// VerdictAllow: make the call.
	VerdictAllow Verdict = "allow"
	// VerdictDowngrade: make the call with Decision.SuggestedModel.
	VerdictDowngrade Verdict = "downgrade"
	// VerdictBlock: do not make the call (Decision.Reason says which rule).
	VerdictBlock Verdict = "block"
)

// Decision is the answer of Engine.Allow. Amounts are exact decimal strings of cents; an
// empty string (or ReservationID 0) is absent. json.Marshal writes the product SDK's shape
// (camelCase keys, null for absent values).
type Decision struct {
	Decision Verdict
	// Reason is "ok", "no_policy", "max_run_cost", "max_agent_cost", "budget_exceeded" or
	// "min_margin".
	Reason string
	// Flagged: allowed despite a breach (the policy's action is "allow").
	Flagged  bool
	PolicyID string
	// Period of the figures: "2026-01", "2026-W02", "2026-01-05", "all", "run", or "".
	Period         string
	SuggestedModel string
	CostCents      string
	RevenueCents   string
	// MarginPct is a percent with two decimals ("20.00"); "" without revenue.
	MarginPct string
	// RemainingBudgetCents is "" without a budget rule.
	RemainingBudgetCents string
	// EstimateCents is the estimate as priced (of SuggestedModel on a downgrade); "" when
	// unknown.
	EstimateCents string
	ReservationID uint64
}

// Allowed is true unless the verdict is block.
func (d *Decision) Allowed() bool { return d.Decision != VerdictBlock }

type decisionJSON struct {
	Decision             Verdict `json:"decision"`
	Reason               string  `json:"reason"`
	Flagged              bool    `json:"flagged"`
	PolicyID             *string `json:"policyId"`
	Period               *string `json:"period"`
	SuggestedModel       *string `json:"suggestedModel"`
	CostCents            string  `json:"costCents"`
	RevenueCents         string  `json:"revenueCents"`
	MarginPct            *string `json:"marginPct"`
	RemainingBudgetCents *string `json:"remainingBudgetCents"`
	EstimateCents        *string `json:"estimateCents"`
	ReservationID        *uint64 `json:"reservationId"`
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// MarshalJSON writes the product SDK's shape.
func (d Decision) MarshalJSON() ([]byte, error) {
	var id *uint64
	if d.ReservationID != 0 {
		id = &d.ReservationID
	}
	return json.Marshal(decisionJSON{d.Decision, d.Reason, d.Flagged, orNull(d.PolicyID), orNull(d.Period),
		orNull(d.SuggestedModel), d.CostCents, d.RevenueCents, orNull(d.MarginPct),
		orNull(d.RemainingBudgetCents), orNull(d.EstimateCents), id})
}

// UnmarshalJSON reads the product SDK's shape.
func (d *Decision) UnmarshalJSON(b []byte) error {
	var j decisionJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*d = Decision{Decision: j.Decision, Reason: j.Reason, Flagged: j.Flagged, PolicyID: deref(j.PolicyID),
		Period: deref(j.Period), SuggestedModel: deref(j.SuggestedModel), CostCents: j.CostCents,
		RevenueCents: j.RevenueCents, MarginPct: deref(j.MarginPct),
		RemainingBudgetCents: deref(j.RemainingBudgetCents), EstimateCents: deref(j.EstimateCents)}
	if j.ReservationID != nil {
		d.ReservationID = *j.ReservationID
	}
	return nil
}

// GuardBlocked is the error of a blocked call (a Transport's Guard returns it through the
// SDK, errors.As); Decision says which rule.
type GuardBlocked struct{ Decision *Decision }

// RetryableError is false: a blocked call is not retried (the AWS SDK's retryer asks).
func (g *GuardBlocked) RetryableError() bool { return false }

func (g *GuardBlocked) Error() string {
	s := fmt.Sprintf("tollgate: blocked by policy %q: %s", g.Decision.PolicyID, g.Decision.Reason)
	if g.Decision.Period != "" {
		s += " (" + g.Decision.Period + ")"
	}
	return s
}

// Allow decides in-process whether a call may be made now (budgets, minimum margin, per-run
// and per-agent caps, downgrades), from running sums: never unavailable. Bad requests are
// ErrInvalidInput naming the field; a reservation needs a known estimate.
func (e *Engine) Allow(req AllowRequest) (*Decision, error) {
	body, err := req.json()
	if err != nil {
		return nil, err
	}
	var out []byte
	err = e.use(func(p *C.tg_engine) error {
		rp, rn := bytesPtr(body)
		var err error
		out, err = callBuffered(DecisionJSONMax, func(o *C.uint8_t, cap C.size_t, n *C.size_t, cerr *C.tg_error) C.int32_t {
			return C.tg_allow_json(p, rp, rn, o, cap, n, cerr)
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	var d Decision
	if err := json.Unmarshal(out, &d); err != nil {
		return nil, fmt.Errorf("tollgate: decoding decision: %w", err)
	}
	return &d, nil
}

// Settlement is what Settle did: the tracked event's result, and the cents the reservation
// held ("" when it had already expired or been released; the event is tracked anyway).
type Settlement struct {
	Result        IngestResult `json:"result"`
	ReleasedCents string       `json:"-"`
}

// Settle tracks the real usage of a reserved call (an event) and releases the reservation.
// An event for another customer than the reservation's is ErrInvalidInput and keeps the
// reservation; a rejected event is an error and keeps it too.
func (e *Engine) Settle(reservationID uint64, event Event) (*Settlement, error) {
	b, err := json.Marshal(event)
	if err != nil {
		return nil, err
	}
	return e.SettleJSON(reservationID, b)
}

// SettleJSON is Settle for an event record in JSON form.
func (e *Engine) SettleJSON(reservationID uint64, event []byte) (*Settlement, error) {
	var out []byte
	err := e.use(func(p *C.tg_engine) error {
		ep, en := bytesPtr(event)
		var err error
		out, err = callBuffered(RecordOutMax+64, func(o *C.uint8_t, cap C.size_t, n *C.size_t, cerr *C.tg_error) C.int32_t {
			return C.tg_settle_json(p, C.uint64_t(reservationID), ep, en, o, cap, n, cerr)
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	var j struct {
		Result        IngestResult `json:"result"`
		ReleasedCents *string      `json:"releasedCents"`
	}
	if err := json.Unmarshal(out, &j); err != nil {
		return nil, fmt.Errorf("tollgate: decoding settlement: %w", err)
	}
	return &Settlement{Result: j.Result, ReleasedCents: deref(j.ReleasedCents)}, nil
}

// Release frees a reservation (the call failed or was abandoned). It returns the cents it
// held and true, or false when it was not held (unknown, settled, released or expired).
func (e *Engine) Release(reservationID uint64) (Cents, bool, error) {
	var d C.tg_decimal
	err := e.status(func(p *C.tg_engine, cerr *C.tg_error) C.int32_t {
		return C.tg_release(p, C.uint64_t(reservationID), &d, cerr)
	})
	if err != nil {
		if e, ok := err.(*Error); ok && e.Status == ErrNotFound {
			return Cents{}, false, nil
		}
		return Cents{}, false, err
	}
	return centsOf(d), true, nil
}

// PolicyBreach is a rule broken by booked usage (PolicyBreaches).
type PolicyBreach struct {
	CustomerID string `json:"customerId"`
	PolicyID   string `json:"policyId"`
	// Rule is "budget_exceeded", "min_margin", "max_run_cost" or "max_agent_cost".
	Rule string `json:"rule"`
	// Period is the period label, or "" for a run cap.
	Period string `json:"period"`
	// Subject is the run or agent of a cap.
	Subject      string `json:"subject"`
	CostCents    string `json:"costCents"`
	RevenueCents string `json:"revenueCents"`
	Limit        string `json:"limit"`
}

// PolicyBreaches lists the rules broken by booked usage, per customer (as `tollgate report`
// does), judged by the policy in force at the ledger clock.
func (e *Engine) PolicyBreaches() ([]PolicyBreach, error) {
	var out []byte
	err := e.use(func(p *C.tg_engine) error {
		var err error
		out, err = callBuffered(1024, func(o *C.uint8_t, cap C.size_t, n *C.size_t, cerr *C.tg_error) C.int32_t {
			return C.tg_policy_breaches_json(p, o, cap, n, cerr)
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	var r struct {
		Breaches []PolicyBreach `json:"breaches"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("tollgate: decoding breaches: %w", err)
	}
	return r.Breaches, nil
}
