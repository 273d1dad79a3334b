package tollgate

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// Every handle is an io.Closer.
var _ = []io.Closer{(*Engine)(nil), (*Snapshot)(nil), (*Stream)(nil)}

func cents(t *testing.T, s string) *Cents {
	t.Helper()
	c, err := ParseCents(s)
	if err != nil {
		t.Fatal(err)
	}
	return &c
}

func TestTypedRecordsWriteTheWireRecord(t *testing.T) {
	ts := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	ev := Event{CustomerID: "acme", RunID: "r1", Provider: "openai", Model: "gpt-4o",
		Usage: Usage{TokensIn: 1000, ServiceTier: TierBatch}, Timestamp: ts,
		RevenueUnitCents: cents(t, "12.5"), Kind: KindLLM}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	// 2026-01-10T00:00:00Z is 1768003200000 ms after the epoch (20463 days * 86400000).
	want := `{"customerId":"acme","model":"gpt-4o","provider":"openai","revenueUnitCents":"12.5","runId":"r1","serviceTier":"batch","timestamp":1768003200000,"tokensIn":1000}`
	if string(b) != want {
		t.Fatalf("event\n got %s\nwant %s", b, want)
	}
	c := Customer{CustomerID: "acme", Seats: 3, Plan: &Plan{PricingModel: PerSeat, SeatPriceCents: cents(t, "2500")}}
	b, _ = json.Marshal(c)
	if want := `{"customerId":"acme","plan":{"pricingModel":"per_seat","seatPriceCents":"2500"},"seats":3,"type":"customer"}`; string(b) != want {
		t.Fatalf("customer %s", b)
	}
	r := Resolution{CustomerID: "acme", RunID: "r1", Outcome: OutcomeResolved}
	b, _ = json.Marshal(r)
	if want := `{"customerId":"acme","outcome":"resolved","runId":"r1","type":"resolve"}`; string(b) != want {
		t.Fatalf("resolution %s", b)
	}
}

func TestTypedTrackResolveUpsert(t *testing.T) {
	e := ledgerEngine(t)
	day := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	if r, err := e.UpsertCustomer(Customer{CustomerID: "acme", Timestamp: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Plan: &Plan{PricingModel: OutcomeBased, UnitRevenueCents: cents(t, "40")}}); err != nil || r.Status != "accepted" {
		t.Fatalf("upsert: %v %v", r, err)
	}
	// gpt-4o input is $2.50 per million tokens: 1000 tokens = $0.0025 = 0.25 cents.
	r, err := e.Track(Event{CustomerID: "acme", RunID: "r1", Provider: "openai", Model: "gpt-4o",
		Usage: Usage{TokensIn: 1000}, Timestamp: day, IdempotencyKey: "k1"})
	if err != nil || r.Status != "accepted" || r.CostCents != "0.25" {
		t.Fatalf("track: %v %v", r, err)
	}
	if r, err := e.Resolve(Resolution{CustomerID: "acme", RunID: "r1", Outcome: OutcomeResolved, Timestamp: day}); err != nil || r.Status != "accepted" {
		t.Fatalf("resolve: %v %v", r, err)
	}
	m, err := e.CustomerMargin("acme")
	if err != nil {
		t.Fatal(err)
	}
	// Outcome-based: one resolved run earns 40 cents; margin 40 - 0.25 = 39.75.
	if m.RevenueCents.String() != "40" || m.MarginCents.String() != "39.75" || m.RunsResolved != 1 {
		t.Fatalf("margin %+v", m)
	}
	if _, err := e.Track(Event{CustomerID: "acme", Model: "gpt-4o", Outcome: "won"}); err == nil {
		t.Fatal("a bad outcome must be rejected")
	}
}

func TestValueTypesPrintTheirValues(t *testing.T) {
	model, match := "gpt-4o", "exact"
	p := PriceResult{CostCents: "0.75", Priced: true, Model: &model, Source: "ratecard", Match: &match}
	if s := fmt.Sprint(p); s != "0.75 cents (ratecard, model gpt-4o, exact match)" {
		t.Errorf("PriceResult prints %q", s)
	}
	snap := "00000000000000ab"
	ir := IngestResult{Status: "accepted", CostCents: "0.25", RevenueCents: "5", Snapshot: &snap}
	if s := fmt.Sprint(ir); s != "accepted: cost 0.25 cents, revenue 5 cents, snapshot 00000000000000ab" {
		t.Errorf("IngestResult prints %q", s)
	}
	reasoning := uint64(7)
	li := LineItem{Provider: "openai", Model: "o3", TokensIn: 10, TokensOut: 20, ReasoningTokens: &reasoning}
	if s := fmt.Sprint(li); !strings.Contains(s, "reasoning=7") || strings.Contains(s, "0x") {
		t.Errorf("LineItem prints %q", s)
	}
	if s := fmt.Sprint(TierBatch, KindTool); s != "batch tool" {
		t.Errorf("enums print %q", s)
	}
	if s := fmt.Sprint(*cents(t, "-12.5")); s != "-12.5" {
		t.Errorf("Cents prints %q", s)
	}
}
