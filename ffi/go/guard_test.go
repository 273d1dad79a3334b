package tollgate

// Guardrails through the Go binding: the hand-computed scenarios of tests/guardrails.rs (the
// same numbers as the Python and Node suites), reservations, bad policies and requests,
// 8 goroutines reserving and settling, a durable engine across a reopen.
//
// Rates (LiteLLM registry): gpt-4o 0.00025 / 0.001 cent per input / output token,
// gpt-3.5-turbo 0.00005 / 0.00015, gpt-4o-mini 0.000015 / 0.00006.

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

var guardT = time.UnixMilli(1768478400000) // 2026-01-15T12:00:00Z

func guardEngine(t testing.TB, policies ...Policy) *Engine {
	t.Helper()
	e, err := NewEngine(&Options{Clock: guardT})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	for _, p := range policies {
		if p.Timestamp.IsZero() {
			p.Timestamp = time.UnixMilli(0)
		}
		r, err := e.UpsertPolicy(p)
		if err != nil || r.Status != "accepted" {
			t.Fatalf("policy %s: %v %v", p.PolicyID, r, err)
		}
	}
	return e
}

func spend(t testing.TB, e *Engine, ev Event) {
	t.Helper()
	ev.Kind = KindTool
	if ev.Timestamp.IsZero() {
		ev.Timestamp = guardT
	}
	r, err := e.Track(ev)
	if err != nil || r.Status != "accepted" {
		t.Fatalf("track: %v %v", r, err)
	}
}

func allow(t testing.TB, e *Engine, req AllowRequest) *Decision {
	t.Helper()
	if req.At.IsZero() {
		req.At = guardT
	}
	d, err := e.Allow(req)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func eq(t testing.TB, what string, got, want any) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

func TestGuardBudgetBoundaryAndMonthRollover(t *testing.T) {
	e := guardEngine(t, Policy{PolicyID: "b100", CustomerID: "acme", Budget: &Limit{Cents: *cents(t, "100"), Period: PeriodMonth}})
	spend(t, e, Event{CustomerID: "acme", ExternalCostCents: cents(t, "60")})
	// 100 - 60 = 40 left: an estimate of exactly 40 fits.
	d := allow(t, e, AllowRequest{CustomerID: "acme", EstimatedCostCents: cents(t, "40")})
	eq(t, "at the boundary", []any{d.Decision, d.Reason, d.Period, d.RemainingBudgetCents, d.CostCents, d.Allowed()},
		[]any{VerdictAllow, "ok", "2026-01", "40", "60", true})
	// 10^-24 cent more does not.
	d = allow(t, e, AllowRequest{CustomerID: "acme", EstimatedCostCents: cents(t, "40.000000000000000000000001")})
	eq(t, "over by 1e-24", []any{d.Decision, d.Reason, d.PolicyID, d.Allowed()}, []any{VerdictBlock, "budget_exceeded", "b100", false})
	// 2026-02-01T00:00:00Z: a new month, nothing spent.
	d = allow(t, e, AllowRequest{CustomerID: "acme", EstimatedCostCents: cents(t, "100"), At: time.UnixMilli(1769904000000)})
	eq(t, "new month", []any{d.Decision, d.Period, d.CostCents}, []any{VerdictAllow, "2026-02", "0"})
	d = allow(t, e, AllowRequest{CustomerID: "other", EstimatedCostCents: cents(t, "1000000")})
	eq(t, "no policy", []any{d.Decision, d.Reason, d.PolicyID, d.Period}, []any{VerdictAllow, "no_policy", "", ""})
}

func TestGuardMarginRuleAndMinimumActivity(t *testing.T) {
	e := guardEngine(t, Policy{PolicyID: "mm", CustomerID: "c", MinMargin: &MinMargin{Pct: "20", Period: PeriodMonth, MinRevenueCents: cents(t, "1000")}})
	// (500 - 450) / 500 = 10 %, but revenue 500 < 1000: the rule does not apply yet.
	spend(t, e, Event{CustomerID: "c", ExternalCostCents: cents(t, "450"), RevenueUnitCents: cents(t, "500")})
	eq(t, "below minimum activity", allow(t, e, AllowRequest{CustomerID: "c", EstimatedCostCents: cents(t, "100")}).Decision, VerdictAllow)
	// revenue 1000, cost 800: (1000 - 800) / 1000 = exactly 20 %.
	spend(t, e, Event{CustomerID: "c", ExternalCostCents: cents(t, "350"), RevenueUnitCents: cents(t, "500")})
	d := allow(t, e, AllowRequest{CustomerID: "c", EstimatedCostCents: cents(t, "0")})
	eq(t, "exactly 20 %", []any{d.Decision, d.MarginPct, d.RevenueCents}, []any{VerdictAllow, "20.00", "1000"})
	d = allow(t, e, AllowRequest{CustomerID: "c", EstimatedCostCents: cents(t, "0.000000000000000000000001")})
	eq(t, "below 20 %", []any{d.Decision, d.Reason}, []any{VerdictBlock, "min_margin"})
}

func TestGuardDowngradeChain(t *testing.T) {
	e := guardEngine(t, Policy{PolicyID: "dg", CustomerID: "c", Budget: &Limit{Cents: *cents(t, "100"), Period: PeriodDay},
		Action: ActionDowngrade, Downgrade: map[string]string{"gpt-4o": "gpt-3.5-turbo", "gpt-3.5-turbo": "gpt-4o-mini"}})
	// 100,000 in + 100,000 out: gpt-4o 25 + 100 = 125, gpt-3.5-turbo 5 + 15 = 20,
	// gpt-4o-mini 1.5 + 6 = 7.5 cents.
	ask := func() *Decision {
		return allow(t, e, AllowRequest{CustomerID: "c", Model: "gpt-4o", Provider: "openai", Usage: &Usage{TokensIn: 100000, TokensOut: 100000}})
	}
	spend(t, e, Event{CustomerID: "c", ExternalCostCents: cents(t, "50")}) // 50 left
	d := ask()
	eq(t, "first fit", []any{d.Decision, d.SuggestedModel, d.EstimateCents}, []any{VerdictDowngrade, "gpt-3.5-turbo", "20"})
	spend(t, e, Event{CustomerID: "c", ExternalCostCents: cents(t, "40")}) // 10 left: 20 is over too
	d = ask()
	eq(t, "second step", []any{d.Decision, d.SuggestedModel, d.EstimateCents}, []any{VerdictDowngrade, "gpt-4o-mini", "7.5"})
	spend(t, e, Event{CustomerID: "c", ExternalCostCents: cents(t, "5")}) // 5 left: nothing fits
	d = ask()
	eq(t, "nothing fits", []any{d.Decision, d.Reason, d.SuggestedModel}, []any{VerdictBlock, "budget_exceeded", ""})
}

func TestGuardRunAndAgentCaps(t *testing.T) {
	e := guardEngine(t, Policy{PolicyID: "p", CustomerID: "c", MaxRunCostCents: cents(t, "30"), MaxAgentCost: &Limit{Cents: *cents(t, "50"), Period: PeriodDay}})
	spend(t, e, Event{CustomerID: "c", RunID: "r1", AgentID: "a1", ExternalCostCents: cents(t, "20")})
	eq(t, "run 20 + 10 = 30", allow(t, e, AllowRequest{CustomerID: "c", RunID: "r1", EstimatedCostCents: cents(t, "10")}).Decision, VerdictAllow)
	d := allow(t, e, AllowRequest{CustomerID: "c", RunID: "r1", EstimatedCostCents: cents(t, "10.5")})
	eq(t, "run 30.5 > 30", []any{d.Decision, d.Reason, d.Period, d.CostCents}, []any{VerdictBlock, "max_run_cost", "run", "20"})
	eq(t, "agent 20 + 30 = 50", allow(t, e, AllowRequest{CustomerID: "c", AgentID: "a1", EstimatedCostCents: cents(t, "30")}).Decision, VerdictAllow)
	d = allow(t, e, AllowRequest{CustomerID: "c", AgentID: "a1", EstimatedCostCents: cents(t, "30.01")})
	eq(t, "agent over", []any{d.Decision, d.Reason, d.Period}, []any{VerdictBlock, "max_agent_cost", "2026-01-15"})
	eq(t, "next day", allow(t, e, AllowRequest{CustomerID: "c", AgentID: "a1", EstimatedCostCents: cents(t, "50"), At: guardT.Add(24 * time.Hour)}).Decision, VerdictAllow)
}

func TestGuardReservations(t *testing.T) {
	e := guardEngine(t, Policy{PolicyID: "b", CustomerID: "c", Budget: &Limit{Cents: *cents(t, "100"), Period: PeriodMonth}})
	tool := func(cost string) Event {
		return Event{CustomerID: "c", Kind: KindTool, ExternalCostCents: cents(t, cost), Timestamp: guardT}
	}
	r1 := allow(t, e, AllowRequest{CustomerID: "c", EstimatedCostCents: cents(t, "60"), Reserve: true}).ReservationID
	if r1 == 0 {
		t.Fatal("no reservation")
	}
	eq(t, "60 held: 41 > 40", allow(t, e, AllowRequest{CustomerID: "c", EstimatedCostCents: cents(t, "41")}).Decision, VerdictBlock)
	s, err := e.Settle(r1, tool("70"))
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "settled higher", []any{s.Result.Status, s.ReleasedCents}, []any{"accepted", "60"})
	eq(t, "100 - 70", allow(t, e, AllowRequest{CustomerID: "c"}).RemainingBudgetCents, "30")
	r2 := allow(t, e, AllowRequest{CustomerID: "c", EstimatedCostCents: cents(t, "20"), Reserve: true}).ReservationID
	s, err = e.Settle(r2, tool("5"))
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "settled lower", s.ReleasedCents, "20")
	eq(t, "100 - 75", allow(t, e, AllowRequest{CustomerID: "c"}).RemainingBudgetCents, "25")
	r3 := allow(t, e, AllowRequest{CustomerID: "c", EstimatedCostCents: cents(t, "25"), Reserve: true}).ReservationID
	c, held, err := e.Release(r3)
	eq(t, "released", []any{c.String(), held, err}, []any{"25", true, nil})
	_, held, err = e.Release(r3)
	eq(t, "released twice", []any{held, err}, []any{false, nil})
	allow(t, e, AllowRequest{CustomerID: "c", EstimatedCostCents: cents(t, "25"), Reserve: true, TTL: time.Second})
	eq(t, "still held", allow(t, e, AllowRequest{CustomerID: "c", EstimatedCostCents: cents(t, "0.01"), At: guardT.Add(999 * time.Millisecond)}).Decision, VerdictBlock)
	eq(t, "expired", allow(t, e, AllowRequest{CustomerID: "c", EstimatedCostCents: cents(t, "25"), At: guardT.Add(time.Second)}).Decision, VerdictAllow)
	// Settling for another customer is refused and keeps the reservation.
	r4 := allow(t, e, AllowRequest{CustomerID: "c", EstimatedCostCents: cents(t, "1"), Reserve: true}).ReservationID
	other := tool("1")
	other.CustomerID = "other"
	if _, err := e.Settle(r4, other); !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), "customerId:") {
		t.Fatalf("settle for another customer: %v", err)
	}
	c, held, _ = e.Release(r4)
	eq(t, "kept", []any{c.String(), held}, []any{"1", true})
}

func TestGuardBadPoliciesAndRequests(t *testing.T) {
	e := guardEngine(t)
	for _, c := range []struct{ policy, field string }{
		{`{"policyId":"p","budget":{"cents":"-1","period":"day"}}`, "budget.cents"},
		{`{"policyId":"p","budget":{"cents":"1","period":"year"}}`, "budget.period"},
		{`{"policyId":"p","action":"downgrade"}`, "downgrade"},
		{`{"policyId":"p","downgrade":{"a":"b","b":"a"}}`, "downgrade"},
		{`{"policyId":"p","minMargin":{"pct":"12.345","period":"day"}}`, "minMargin.pct"},
		{`{"customerId":"c"}`, "policyId"},
	} {
		_, err := e.UpsertPolicyJSON([]byte(c.policy))
		var te *Error
		if !errors.As(err, &te) || te.Status != ErrInvalidInput || !strings.HasPrefix(te.Message, c.field+":") {
			t.Fatalf("%s: %v", c.policy, err)
		}
	}
	if b, err := e.PolicyBreaches(); err != nil || len(b) != 0 {
		t.Fatalf("nothing stored: %v %v", b, err)
	}
	if _, err := e.Allow(AllowRequest{CustomerID: "", EstimatedCostCents: cents(t, "1")}); err == nil || !strings.Contains(err.Error(), "customerId:") {
		t.Fatalf("empty customer: %v", err)
	}
	if _, err := e.Allow(AllowRequest{CustomerID: "c", Reserve: true}); err == nil || !strings.Contains(err.Error(), "estimate:") {
		t.Fatalf("reserve without estimate: %v", err)
	}
}

func TestGuardBlockedAndProductShape(t *testing.T) {
	e := guardEngine(t, Policy{PolicyID: "b", CustomerID: "c", Budget: &Limit{Cents: *cents(t, "1"), Period: PeriodDay}})
	d := allow(t, e, AllowRequest{CustomerID: "c", EstimatedCostCents: cents(t, "2")})
	var err error = &GuardBlocked{Decision: d}
	var gb *GuardBlocked
	if !errors.As(err, &gb) || gb.Decision != d || !strings.Contains(err.Error(), "budget_exceeded") {
		t.Fatalf("GuardBlocked: %v", err)
	}
	b, _ := json.Marshal(d)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	eq(t, "keys", keys, []string{"costCents", "decision", "estimateCents", "flagged", "marginPct", "period", "policyId",
		"reason", "remainingBudgetCents", "reservationId", "revenueCents", "suggestedModel"})
	eq(t, "nulls", []any{m["reservationId"], m["suggestedModel"], m["estimateCents"]}, []any{nil, nil, "2"})
	spend(t, e, Event{CustomerID: "c", ExternalCostCents: cents(t, "3")}) // 3 > 1 on 2026-01-15
	br, err := e.PolicyBreaches()
	if err != nil || len(br) != 1 {
		t.Fatalf("breaches: %v %v", br, err)
	}
	eq(t, "breach", []any{br[0].Rule, br[0].Period, br[0].CostCents, br[0].Limit}, []any{"budget_exceeded", "2026-01-15", "3", "1"})
}

func TestGuardEightGoroutinesStayWithinBudget(t *testing.T) {
	e := guardEngine(t, Policy{PolicyID: "b", CustomerID: "c", Budget: &Limit{Cents: *cents(t, "1000"), Period: PeriodAll}})
	var wg sync.WaitGroup
	var mu sync.Mutex
	calls := 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for n := 0; n < 2000; n++ {
				d, err := e.Allow(AllowRequest{CustomerID: "c", EstimatedCostCents: cents(t, "7"), At: guardT, Reserve: true})
				if err != nil {
					t.Error(err)
					return
				}
				if d.Decision == VerdictBlock {
					return
				}
				ev := Event{CustomerID: "c", Kind: KindTool, ExternalCostCents: cents(t, "6.5"), IdempotencyKey: fmt.Sprintf("w%d-%d", i, n), Timestamp: guardT}
				if _, err := e.Settle(d.ReservationID, ev); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				calls++
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	// Reserve 7, cost 6.5: allowed while 7 fits in 1000 - 6.5 n → n = 153 calls (994.5 + 7 >
	// 1000 stops the 154th), 994.5 cents, never over 1000.
	m, err := e.CustomerMargin("c")
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "calls, events, cost", []any{calls, m.Events, m.CostCents.String()}, []any{153, 153, "994.5"})
}

func TestGuardDurableEngineKeepsPoliciesAndSettledEvents(t *testing.T) {
	dir := t.TempDir()
	e, err := OpenEngine(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.UpsertPolicy(Policy{PolicyID: "b", CustomerID: "c", Budget: &Limit{Cents: *cents(t, "100"), Period: PeriodAll}, Timestamp: time.UnixMilli(0)}); err != nil {
		t.Fatal(err)
	}
	d, err := e.Allow(AllowRequest{CustomerID: "c", EstimatedCostCents: cents(t, "60"), Reserve: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Settle(d.ReservationID, Event{CustomerID: "c", Kind: KindTool, ExternalCostCents: cents(t, "70"), IdempotencyKey: "s1"}); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e, err = OpenEngine(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	// After the reopen: the policy (100) and the settled event (70): 30 left.
	d, err = e.Allow(AllowRequest{CustomerID: "c", EstimatedCostCents: cents(t, "30")})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "after reopen", []any{d.Decision, d.PolicyID, d.CostCents, d.RemainingBudgetCents}, []any{VerdictAllow, "b", "70", "30"})
}
