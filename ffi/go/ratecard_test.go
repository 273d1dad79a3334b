package tollgate

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

const cardT = int64(1767225600000) // 2026-01-01T00:00:00Z

var card = []byte(`{"gpt-4o": {"input_cost_per_token": 5e-06, "output_cost_per_token": 2e-05, "litellm_provider": "openai"}}`)

func at(ts int64) []byte {
	return []byte(fmt.Sprintf(`{"provider":"openai","model":"gpt-4o","tokensIn":1000,"timestamp":%d}`, ts))
}

// must returns a result's costCents, failing the test on an error.
func must(t *testing.T) func(*PriceResult, error) string {
	return func(r *PriceResult, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return r.CostCents
	}
}

func published(t *testing.T) (*Engine, string, string) {
	e := newEngine(t)
	snaps, err := e.Snapshots()
	if err != nil || len(snaps) != 1 {
		t.Fatalf("%v %v", snaps, err)
	}
	id, err := e.PublishRateCard(card, time.UnixMilli(cardT))
	if err != nil {
		t.Fatal(err)
	}
	return e, snaps[0].ID, id
}

func TestPublishPricesByEventTime(t *testing.T) {
	e, embedded, id := published(t)
	// The id is the content hash: the first 8 bytes of SHA-256 of the card bytes.
	sum := sha256.Sum256(card)
	if id != hex.EncodeToString(sum[:8]) {
		t.Fatalf("id %s, want %x", id, sum[:8])
	}
	// 1000 * 2.5e-06 USD = 0.25 cents before T; 1000 * 5e-06 USD = 0.5 cents from T.
	if c := must(t)(e.PriceJSON(at(cardT - 1))); c != "0.25" {
		t.Errorf("before T: %s", c)
	}
	if c := must(t)(e.PriceJSON(at(cardT))); c != "0.5" {
		t.Errorf("at T: %s", c)
	}
	snaps, _ := e.Snapshots()
	if len(snaps) != 2 || snaps[0] != (SnapshotInfo{embedded, time.UnixMilli(0).UTC(), snaps[0].Models}) || snaps[1] != (SnapshotInfo{id, time.UnixMilli(cardT).UTC(), 1}) {
		t.Fatalf("snapshots %+v", snaps)
	}
}

func TestPublishReportsUnknownRateFields(t *testing.T) {
	e, _, _ := published(t)
	// A mistyped tier field ("abck" for "200k") is accepted, prices nothing, and is reported.
	mistyped := []byte(`{"m": {"litellm_provider": "openai", "input_cost_per_token": 1e-06, "input_cost_per_token_above_abck_tokens": 2e-06}}`)
	r, err := e.PublishRateCardReport(mistyped, time.UnixMilli(cardT+10))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(mistyped)
	want := "registry key `m`: `input_cost_per_token_above_abck_tokens` looks like a rate but matches no rate name the engine knows; it is not used for pricing"
	if r.Snapshot != hex.EncodeToString(sum[:8]) || len(r.Warnings) != 1 || r.Warnings[0] != want {
		t.Fatalf("got %+v", r)
	}
	// 300,000 x 1e-06 USD = 30 cents: the mistyped rate is unused.
	if c := must(t)(e.PriceJSON([]byte(fmt.Sprintf(`{"provider":"openai","model":"m","tokensIn":300000,"timestamp":%d}`, cardT+20)))); c != "30" {
		t.Fatalf("cost %s", c)
	}
	if r, err := e.PublishRateCardReport(card, time.UnixMilli(cardT+30)); err != nil || len(r.Warnings) != 0 {
		t.Fatalf("clean card: %+v %v", r, err)
	}
}

func TestABadCardChangesNothing(t *testing.T) {
	e, _, _ := published(t)
	_, err := e.PublishRateCard([]byte(`{"x": {"input_cost_per_token": "abc", "litellm_provider": "openai"}}`), time.UnixMilli(cardT+1))
	if !errors.Is(err, ErrRateCard) || !strings.Contains(err.Error(), "registry key `x`, field `input_cost_per_token`") {
		t.Fatalf("got %v", err)
	}
	if _, err := e.PublishRateCard(card, time.UnixMilli(-1)); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("got %v", err)
	}
	if _, err := e.PublishRateCard(nil, time.UnixMilli(0)); !errors.Is(err, ErrRateCard) { // empty input is not a registry
		t.Fatalf("got %v", err)
	}
	if snaps, _ := e.Snapshots(); len(snaps) != 2 {
		t.Fatalf("snapshots changed: %+v", snaps)
	}
}

func TestPinnedSnapshots(t *testing.T) {
	e, embedded, id := published(t)
	old, err := e.Pin(embedded)
	if err != nil {
		t.Fatal(err)
	}
	cur, err := e.Pin(id)
	if err != nil {
		t.Fatal(err)
	}
	if old.ID != embedded || !old.EffectiveFrom.Equal(time.UnixMilli(0)) || cur.ID != id || !cur.EffectiveFrom.Equal(time.UnixMilli(cardT)) {
		t.Fatalf("%+v %+v", old, cur)
	}
	if c := must(t)(old.PriceJSON(at(cardT + 1))); c != "0.25" {
		t.Errorf("old pin: %s", c)
	}
	if c := must(t)(cur.PriceJSON(at(0))); c != "0.5" {
		t.Errorf("current pin: %s", c)
	}
	out, err := cur.PriceBatch([]PriceItem{{Provider: "openai", Model: "gpt-4o", Usage: Usage{TokensIn: 1000}, Timestamp: time.UnixMilli(1)}})
	if err != nil || out[0].CostCents.String() != "0.5" || fmt.Sprintf("%016x", out[0].SnapshotID) != id {
		t.Fatalf("batch: %v %+v", err, out)
	}
	if err := e.SetOverride("gpt-4o", []byte(`{"input_cost_per_token": 2e-06, "output_cost_per_token": 8e-06}`)); err != nil {
		t.Fatal(err)
	}
	if c := must(t)(cur.PriceJSON(at(cardT))); c != "0.5" { // pinned before the override
		t.Errorf("after override: %s", c)
	}
	if _, err := e.Pin("0000000000000001"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	e.Close()
	if c := must(t)(cur.PriceJSON(at(0))); c != "0.5" { // outlives its engine
		t.Errorf("after close: %s", c)
	}
	var closers = []io.Closer{old, cur, cur} // closing twice is a no-op
	for _, c := range closers {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cur.PriceJSON(at(0)); !errors.Is(err, ErrInvalidHandle) {
		t.Fatalf("after unpin: %v", err)
	}
}

func TestOverrides(t *testing.T) {
	e, _, _ := published(t)
	if err := e.SetOverride("gpt-4o", []byte(`{"input_cost_per_token": 2e-06, "output_cost_per_token": 8e-06}`)); err != nil {
		t.Fatal(err)
	}
	r, err := e.PriceJSON(at(cardT))
	// 1000 * 2e-06 USD = 0.2 cents
	if err != nil || r.CostCents != "0.2" || r.Match == nil || *r.Match != "override" {
		t.Fatalf("%v %+v", err, r)
	}
	if err := e.SetOverride("gpt-4o", []byte(`{"input_cost_per_token": -1}`)); !errors.Is(err, ErrRateCard) {
		t.Fatalf("bad entry: %v", err)
	}
	if removed, err := e.RemoveOverride("GPT-4O"); !removed || err != nil {
		t.Fatalf("remove: %v %v", removed, err)
	}
	if removed, _ := e.RemoveOverride("gpt-4o"); removed {
		t.Fatal("removed twice")
	}
	if c := must(t)(e.PriceJSON(at(cardT))); c != "0.5" {
		t.Errorf("after remove: %s", c)
	}
}

func TestCustomRateCardReplacesTheEmbeddedOne(t *testing.T) {
	e, err := NewEngine(&Options{RateCard: card})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if c := must(t)(e.PriceJSON(at(0))); c != "0.5" {
		t.Errorf("%s", c)
	}
	if _, err := NewEngine(&Options{RateCard: []byte("[]")}); !errors.Is(err, ErrRateCard) {
		t.Fatalf("bad card: %v", err)
	}
}
