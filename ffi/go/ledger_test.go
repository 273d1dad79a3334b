package tollgate

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const clockMs = int64(1768435200000) // 2026-01-15T00:00:00Z

var (
	acmeRecord    = []byte(`{"customerId":"acme","name":"Acme","plan":{"name":"pro","pricingModel":"usage_based","unitRevenueCents":5},"timestamp":"2026-01-01T00:00:00Z"}`)
	evK1          = []byte(`{"customerId":"acme","runId":"r1","agentId":"a1","provider":"openai","model":"gpt-4o","tokensIn":1200,"cachedTokens":800,"tokensOut":350,"idempotencyKey":"k1","timestamp":"2026-01-10T00:00:00Z"}`)
	anthropicBody = []byte(`{"id":"msg_1","type":"message","model":"claude-sonnet-4-5-20250929","usage":{"input_tokens":3,"cache_read_input_tokens":1111,"cache_creation_input_tokens":418,"output_tokens":33}}`)
	r1Context     = []byte(`{"customerId":"acme","runId":"r1","timestamp":"2026-01-10T01:00:00Z"}`)
	resolveR1     = []byte(`{"runId":"r1","customerId":"acme","outcome":"resolved","timestamp":"2026-01-10T02:00:00Z"}`)
)

func ledgerEngine(t testing.TB) *Engine {
	e, err := NewEngine(&Options{Clock: time.UnixMilli(clockMs)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func status(t testing.TB) func(*IngestResult, error) string {
	return func(r *IngestResult, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return r.Status
	}
}

// acme: usage_based plan (5 cents per event), a gpt-4o event (0.75 cents), an Anthropic
// response (0.24048 cents), run r1 resolved.
func acme(t testing.TB) *Engine {
	e := ledgerEngine(t)
	if s := status(t)(e.UpsertCustomerJSON(acmeRecord)); s != "accepted" {
		t.Fatal(s)
	}
	if s := status(t)(e.TrackJSON(evK1)); s != "accepted" {
		t.Fatal(s)
	}
	if rs, err := e.TrackResponse("anthropic", anthropicBody, r1Context, ""); err != nil || rs[0].Status != "accepted" {
		t.Fatalf("%v %+v", err, rs)
	}
	if s := status(t)(e.ResolveJSON(resolveR1)); s != "accepted" {
		t.Fatal(s)
	}
	return e
}

func TestTrackResults(t *testing.T) {
	e := ledgerEngine(t)
	status(t)(e.UpsertCustomerJSON(acmeRecord))
	r, err := e.TrackJSON(evK1)
	// 0.75 cents (data/ffi/vectors.jsonl line 1); usage_based: 5 cents x 1 unit
	if err != nil || r.Status != "accepted" || r.CostCents != "0.75" || r.RevenueCents != "5" || !r.Priced {
		t.Fatalf("%v %+v", err, r)
	}
	if s := status(t)(e.TrackJSON(evK1)); s != "duplicate" {
		t.Errorf("again: %s", s)
	}
	if s := status(t)(e.TrackJSON(bytes.Replace(evK1, []byte("1200"), []byte("1300"), 1))); s != "conflict" {
		t.Errorf("changed money: %s", s)
	}
	rs, err := e.TrackResponse("anthropic", anthropicBody, r1Context, "")
	// 3*3e-6 + 1111*3e-7 + 418*3.75e-6 + 33*1.5e-5 USD = 0.0024048 USD
	if err != nil || len(rs) != 1 || rs[0].Status != "accepted" || rs[0].CostCents != "0.24048" {
		t.Fatalf("%v %+v", err, rs)
	}
	if rs, _ := e.TrackResponse("anthropic", anthropicBody, r1Context, ""); rs[0].Status != "duplicate" {
		t.Errorf("response again: %+v", rs)
	}
	if s := status(t)(e.ResolveJSON(resolveR1)); s != "accepted" {
		t.Error(s)
	}
	if s := status(t)(e.ResolveJSON(resolveR1)); s != "duplicate" {
		t.Error(s)
	}
	if s := status(t)(e.ResolveJSON(bytes.Replace(resolveR1, []byte("resolved"), []byte("failed"), 1))); s != "conflict" {
		t.Error(s)
	}
}

func TestRejectionsAreErrorsAndChangeNothing(t *testing.T) {
	e := acme(t)
	before, _ := e.StateSave()
	for _, c := range []struct {
		call   func() error
		status Status
		detail string
	}{
		{func() error {
			_, err := e.TrackJSON([]byte(`{"customerId":"acme","model":"gpt-4o","tokenIn":5}`))
			return err
		}, ErrInvalidInput, "unknown field `tokenIn`"},
		{func() error {
			_, err := e.TrackJSON([]byte(`{"customerId":"acme","model":"gpt-4o","idempotencyKey":"old","timestamp":"2026-01-08T00:00:00Z"}`))
			return err
		}, ErrTooLate, ""},
		{func() error { _, err := e.TrackJSON([]byte("{\"customerId\":\"a\xff\",\"model\":\"m\"}")); return err }, ErrInvalidUTF8, ""},
		{func() error {
			_, err := e.ResolveJSON([]byte(`{"runId":"r2","customerId":"acme","outcome":"won"}`))
			return err
		}, ErrInvalidInput, "outcome"},
		{func() error {
			_, err := e.UpsertCustomerJSON([]byte(`{"customerId":"acme","plan":{"pricingModel":"free"}}`))
			return err
		}, ErrInvalidInput, "plan.pricingModel"},
		{func() error {
			_, err := e.TrackResponse("anthropic", anthropicBody, []byte(`{"customerId":"acme","tokensIn":5}`), "")
			return err
		}, ErrInvalidInput, "field `tokensIn` is not allowed"},
	} {
		err := c.call()
		if !errors.Is(err, c.status) || !strings.Contains(err.Error(), c.detail) {
			t.Errorf("got %v, want %v containing %q", err, c.status, c.detail)
		}
	}
	if after, _ := e.StateSave(); !bytes.Equal(before, after) {
		t.Fatal("a rejection changed the ledger")
	}
}

func TestCustomerMarginAndQueries(t *testing.T) {
	e := acme(t)
	m, err := e.CustomerMargin("acme")
	if err != nil {
		t.Fatal(err)
	}
	// revenue 5 + 5 = 10; cost 0.75 + 0.24048 = 0.99048; margin 9.00952 = 90.0952 % -> 9010
	if m.RevenueCents.String() != "10" || m.CostCents.String() != "0.99048" || m.MarginCents.String() != "9.00952" ||
		!m.HasMarginPct || m.MarginPctHundredths != 9010 || m.Events != 2 || m.RunsResolved != 1 {
		t.Fatalf("%+v", m)
	}
	if _, err := e.CustomerMargin("nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown customer: %v", err)
	}
	rows, err := e.Margin([]byte(`{"groupBy":["model"]}`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		model := "null"
		if r.Model != nil {
			model = *r.Model
		}
		got = append(got, model+"="+r.CostCents)
	}
	if fmt.Sprint(got) != "[null=0 claude-sonnet-4-5-20250929=0.24048 gpt-4o=0.75]" {
		t.Fatalf("rows %v", got)
	}
	if total, err := e.Margin(nil); err != nil || total[0].MarginCents != "9.00952" || *total[0].MarginPct != "90.10" {
		t.Fatalf("%v %+v", err, total)
	}
	for _, bad := range []string{`{"groupBy":["planet"]}`, `{"from":"2026-01-12","to":"2026-01-11"}`, `{"costumerId":"acme"}`} {
		if _, err := e.Margin([]byte(bad)); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func TestStateRoundTripAndCorruption(t *testing.T) {
	e := acme(t)
	r := ledgerEngine(t)
	state, err := e.StateSave()
	if err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte(nil), state...)
	flipped[10] ^= 1
	for _, bad := range [][]byte{state[:len(state)/2], flipped, nil} {
		if err := r.StateRestore(bad); !errors.Is(err, ErrState) {
			t.Errorf("bad state: %v", err)
		}
	}
	if _, err := r.CustomerMargin("acme"); !errors.Is(err, ErrNotFound) {
		t.Fatal("corrupt state loaded something")
	}
	if err := r.StateRestore(state); err != nil {
		t.Fatal(err)
	}
	if m, _ := r.CustomerMargin("acme"); m.MarginCents.String() != "9.00952" {
		t.Fatalf("%+v", m)
	}
	if s := status(t)(r.TrackJSON(evK1)); s != "duplicate" { // exactly-once survives
		t.Fatal(s)
	}
	if again, _ := r.StateSave(); !bytes.Equal(again, state) {
		t.Fatal("snapshot of the restored ledger differs")
	}
}

func TestSmallBufferNeverLosesATrackedEvent(t *testing.T) {
	e := ledgerEngine(t)
	if r := rawTrackJSON(e, evK1, 64); r.status != ErrBufferTooSmall || r.outLen != RecordOutMax {
		t.Fatalf("%+v", r)
	}
	if s := status(t)(e.TrackJSON(evK1)); s != "accepted" { // nothing was tracked before
		t.Fatal(s)
	}
}

func TestTrackStream(t *testing.T) {
	e := ledgerEngine(t)
	s, err := NewStream("anthropic", "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for off := 0; off < len(anthropicBody); off += 5 {
		if err := s.Feed(anthropicBody[off:min(off+5, len(anthropicBody))]); err != nil {
			t.Fatal(err)
		}
	}
	ctx := []byte(`{"customerId":"acme","idempotencyKey":"call-7"}`)
	if rs, err := e.TrackStream(s, ctx); err != nil || rs[0].CostCents != "0.24048" {
		t.Fatalf("%v %+v", err, rs)
	}
	if rs, _ := e.TrackStream(s, ctx); rs[0].Status != "duplicate" {
		t.Fatalf("%+v", rs)
	}
}

func TestConcurrentTracksAreExactlyOnce(t *testing.T) {
	e := ledgerEngine(t)
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				key := (g/2)*1000 + i // every key is tracked by two goroutines
				r, err := e.TrackJSON([]byte(fmt.Sprintf(`{"customerId":"acme","provider":"openai","model":"gpt-4o","tokensIn":1000,"idempotencyKey":"k%d","timestamp":"2026-01-10T00:00:00Z"}`, key)))
				mu.Lock()
				if err != nil {
					counts["error"]++
				} else {
					counts[r.Status]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if counts["accepted"] != 400 || counts["duplicate"] != 400 || len(counts) != 2 {
		t.Fatalf("%v", counts)
	}
	m, _ := e.CustomerMargin("acme")
	// 400 events x 1000 x 2.5e-6 USD = 400 x 0.25 cents = 100 cents
	if m.Events != 400 || m.CostCents.String() != "100" {
		t.Fatalf("%+v", m)
	}
}

// unpricedCard lacks claude-sonnet-5 and prices claude-opus-4-8 per second only.
var unpricedCard = []byte(`{"gpt-4o": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 2.5e-06}, "claude-opus-4-8": {"litellm_provider": "anthropic", "mode": "chat", "input_cost_per_second": 0.0001}}`)

// A real recorded Anthropic stream (advisor call): executor claude-sonnet-5, advisor
// claude-opus-4-8. With unpricedCard in force both are booked at cost 0 with revenue 10
// (10 cents x 1 unit), and each result says why: unknown_model, no_token_price.
func TestUnpricedLineItemsSayWhy(t *testing.T) {
	path := filepath.Join(sharedFixtures, "anthropic_stream_5.sse")
	sharedOrSkip(t, path)
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := []byte(`{"customerId":"acme","revenueUnitCents":"10","timestamp":"2026-01-10T00:00:00Z"}`)
	for _, streamed := range []bool{false, true} {
		e, err := NewEngine(&Options{RateCard: unpricedCard, Clock: time.UnixMilli(clockMs)})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		snaps, err := e.Snapshots()
		if err != nil {
			t.Fatal(err)
		}
		snap := snaps[0].ID
		var got []IngestResult
		if streamed {
			s, err := NewStream("anthropic", "")
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for i := 0; i < len(body); i += 97 {
				if err := s.Feed(body[i:min(i+97, len(body))]); err != nil {
					t.Fatal(err)
				}
			}
			got, err = e.TrackStream(s, ctx)
		} else {
			got, err = e.TrackResponse("anthropic", body, ctx, "")
		}
		if err != nil {
			t.Fatal(err)
		}
		var want []IngestResult
		for _, reason := range []string{"unknown_model", "no_token_price"} {
			want = append(want, IngestResult{Status: "accepted", CostCents: "0", RevenueCents: "10", Priced: false,
				Reason: reason, Snapshot: &snap, Warnings: nil})
		}
		if fmt.Sprintf("%+v", derefSnapshots(got)) != fmt.Sprintf("%+v", derefSnapshots(want)) {
			t.Fatalf("streamed=%v: got %+v, want %+v", streamed, derefSnapshots(got), derefSnapshots(want))
		}
	}
}

// derefSnapshots makes results comparable as text (the snapshot is a pointer).
func derefSnapshots(rs []IngestResult) []string {
	var out []string
	for _, r := range rs {
		s := "<nil>"
		if r.Snapshot != nil {
			s = *r.Snapshot
		}
		r.Snapshot = nil
		out = append(out, fmt.Sprintf("%+v snapshot=%s", r, s))
	}
	return out
}
