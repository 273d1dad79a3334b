package tollgate

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Event is one usage event to track (the JSON event record of docs/reference/events.md),
// typed. Zero values are left out of the record, so the engine's defaults apply: Kind ""
// is "llm", a zero Timestamp is the ingest time, Units 0 is 1.
type Event struct {
	CustomerID     string
	RunID          string
	AgentID        string
	IdempotencyKey string
	Kind           Kind
	Provider       string
	Model          string
	Usage
	// Timestamp is the event time (UTC, millisecond precision); zero = ingest time.
	Timestamp time.Time
	// ProviderCostCents, when set, is used verbatim instead of the rate card.
	ProviderCostCents *Cents
	// ExternalCostCents, when set, is added to the cost.
	ExternalCostCents *Cents
	// RevenueUnitCents, when set, is this event's revenue per unit (overrides the plan).
	RevenueUnitCents *Cents
	Units            uint64
	// Outcome resolves a single-call run at once ("resolved", "escalated", "failed").
	Outcome Outcome
}

// Outcome is how a run ended.
type Outcome string

// The outcomes of a run.
const (
	OutcomeResolved  Outcome = "resolved"
	OutcomeEscalated Outcome = "escalated"
	OutcomeFailed    Outcome = "failed"
)

// Resolution resolves a run (Engine.Resolve).
type Resolution struct {
	CustomerID string
	RunID      string
	Outcome    Outcome
	// RevenueUnitCents, when set, is the run's revenue (overrides the plan's unit revenue).
	RevenueUnitCents *Cents
	// Timestamp is when the run ended; zero = now.
	Timestamp time.Time
}

// PricingModel is how a customer's plan earns revenue.
type PricingModel string

// The pricing models of a plan.
const (
	UsageBased   PricingModel = "usage_based"
	OutcomeBased PricingModel = "outcome_based"
	PerSeat      PricingModel = "per_seat"
	Flat         PricingModel = "flat"
)

// Plan is a customer's plan. Amounts not set are absent (zero).
type Plan struct {
	Name             string
	PricingModel     PricingModel
	UnitRevenueCents *Cents
	SeatPriceCents   *Cents
	MonthlyFeeCents  *Cents
}

// Customer creates or changes a customer (Engine.UpsertCustomer).
type Customer struct {
	CustomerID string
	Name       string
	Seats      uint64
	// Plan, when set, replaces the customer's plan.
	Plan *Plan
	// Timestamp is when the change takes effect; zero = now.
	Timestamp time.Time
}

// MarshalText writes the exact decimal text of cents, so a Cents is a JSON string.
func (c Cents) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText parses exact decimal text of cents (see ParseCents).
func (c *Cents) UnmarshalText(text []byte) error {
	v, err := ParseCents(string(text))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

type fields map[string]any

func (f fields) str(k, v string) {
	if v != "" {
		f[k] = v
	}
}

func (f fields) count(k string, v uint64) {
	if v != 0 {
		f[k] = v
	}
}

func (f fields) cents(k string, v *Cents) {
	if v != nil {
		f[k] = v.String()
	}
}

func (f fields) time(k string, t time.Time) {
	if !t.IsZero() {
		f[k] = t.UnixMilli()
	}
}

// MarshalJSON writes the event record.
func (e Event) MarshalJSON() ([]byte, error) {
	f := fields{}
	f.str("customerId", e.CustomerID)
	f.str("runId", e.RunID)
	f.str("agentId", e.AgentID)
	f.str("idempotencyKey", e.IdempotencyKey)
	if e.Kind != KindLLM {
		f["type"] = e.Kind.String()
	}
	f.str("provider", e.Provider)
	f.str("model", e.Model)
	e.Usage.put(f)
	f.time("timestamp", e.Timestamp)
	f.cents("providerCostCents", e.ProviderCostCents)
	f.cents("externalCostCents", e.ExternalCostCents)
	f.cents("revenueUnitCents", e.RevenueUnitCents)
	f.count("units", e.Units)
	f.str("outcome", string(e.Outcome))
	return json.Marshal(map[string]any(f))
}

func (u Usage) put(f fields) {
	f.count("tokensIn", u.TokensIn)
	f.count("cachedTokens", u.CachedTokens)
	f.count("cacheWrite5mTokens", u.CacheWrite5mTokens)
	f.count("cacheWrite1hTokens", u.CacheWrite1hTokens)
	f.count("audioTokensIn", u.AudioTokensIn)
	f.count("imageTokensIn", u.ImageTokensIn)
	f.count("tokensOut", u.TokensOut)
	f.count("reasoningTokens", u.ReasoningTokens)
	f.count("audioTokensOut", u.AudioTokensOut)
	f.count("imageTokensOut", u.ImageTokensOut)
	f.count("webSearchRequests", u.WebSearchRequests)
	f.count("toolCalls", u.ToolCalls)
	if u.ServiceTier != TierStandard {
		f["serviceTier"] = u.ServiceTier.String()
	}
	f.str("inferenceGeo", u.InferenceGeo)
	f.str("speed", u.Speed)
}

// MarshalJSON writes the resolve record.
func (r Resolution) MarshalJSON() ([]byte, error) {
	f := fields{"type": "resolve"}
	f.str("customerId", r.CustomerID)
	f.str("runId", r.RunID)
	f.str("outcome", string(r.Outcome))
	f.cents("revenueUnitCents", r.RevenueUnitCents)
	f.time("timestamp", r.Timestamp)
	return json.Marshal(map[string]any(f))
}

// MarshalJSON writes the customer record.
func (c Customer) MarshalJSON() ([]byte, error) {
	f := fields{"type": "customer"}
	f.str("customerId", c.CustomerID)
	f.str("name", c.Name)
	f.count("seats", c.Seats)
	if c.Plan != nil {
		p := fields{}
		p.str("name", c.Plan.Name)
		p.str("pricingModel", string(c.Plan.PricingModel))
		p.cents("unitRevenueCents", c.Plan.UnitRevenueCents)
		p.cents("seatPriceCents", c.Plan.SeatPriceCents)
		p.cents("monthlyFeeCents", c.Plan.MonthlyFeeCents)
		f["plan"] = map[string]any(p)
	}
	f.time("timestamp", c.Timestamp)
	return json.Marshal(map[string]any(f))
}

// Track prices and applies one event exactly once. A rejected event is an error
// (ErrInvalidInput, ErrTooLate, ErrOverflow) and changes nothing.
func (e *Engine) Track(event Event) (*IngestResult, error) {
	b, err := json.Marshal(event)
	if err != nil {
		return nil, err
	}
	return e.TrackJSON(b)
}

// Resolve resolves a run (its outcome, and its revenue on an outcome-based plan).
func (e *Engine) Resolve(r Resolution) (*IngestResult, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return e.ResolveJSON(b)
}

// UpsertCustomer creates or changes a customer.
func (e *Engine) UpsertCustomer(c Customer) (*IngestResult, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	return e.UpsertCustomerJSON(b)
}

func opt(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}

// String is a one-line summary: the cost, whether it was priced, and from what.
func (r PriceResult) String() string {
	s := fmt.Sprintf("%s cents (%s", r.CostCents, r.Source)
	if r.Model != nil {
		s += ", model " + *r.Model
	}
	if r.Match != nil {
		s += ", " + *r.Match + " match"
	}
	if r.Reason != nil {
		s += ", unpriced: " + *r.Reason
	}
	if len(r.Warnings) > 0 {
		s += ", warnings: " + strings.Join(r.Warnings, "; ")
	}
	return s + ")"
}

// String is a one-line summary of the ingest outcome.
func (r IngestResult) String() string {
	switch r.Status {
	case "accepted":
		return fmt.Sprintf("accepted: cost %s cents, revenue %s cents, snapshot %s", r.CostCents, r.RevenueCents, opt(r.Snapshot))
	case "conflict", "rejected":
		return fmt.Sprintf("%s: %s%s %s", r.Status, r.Reason, r.Kind, r.Error)
	default:
		return r.Status
	}
}

// String lists the line item's model and non-zero counts.
func (l LineItem) String() string {
	s := fmt.Sprintf("%s/%s in=%d cached=%d cacheWrite5m=%d cacheWrite1h=%d out=%d", l.Provider, l.Model,
		l.TokensIn, l.CachedTokens, l.CacheWrite5mTokens, l.CacheWrite1hTokens, l.TokensOut)
	if l.ReasoningTokens != nil {
		s += fmt.Sprintf(" reasoning=%d", *l.ReasoningTokens)
	}
	if l.ServiceTier != nil {
		s += " tier=" + *l.ServiceTier
	}
	if l.ResponseID != nil {
		s += " response=" + *l.ResponseID
	}
	return s
}
