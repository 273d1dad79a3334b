package tollgate

import (
	"errors"
	"strings"
	"sync"
	"testing"
)

func newEngine(t testing.TB) *Engine {
	t.Helper()
	e, err := NewEngine(nil)
	if err != nil {
		t.Fatalf("NewEngine: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func TestPricingVectorsJSONAndBatch(t *testing.T) {
	e := newEngine(t)
	vectors := pricingVectors(t)
	if len(vectors) < 11 {
		t.Fatalf("only %d vectors", len(vectors))
	}
	items := make([]PriceItem, len(vectors))
	for i, v := range vectors {
		it, ok := itemFromEvent(t, v.Event)
		if !ok {
			t.Fatalf("%s: event not mappable to a PriceItem", v.ID)
		}
		items[i] = it
	}
	out := make([]PriceOut, 0, len(items))
	for i := 0; i < len(items); i += 1 << 16 {
		chunk, err := e.PriceBatch(items[i:min(i+1<<16, len(items))])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, chunk...)
	}
	var log centsLog
	golden, within := 0, 0
	for i, v := range vectors {
		r, err := e.PriceJSON(v.Event)
		if err != nil {
			t.Fatalf("%s: %v", v.ID, err)
		}
		// The struct path (Go-side marshalling, big.Int formatting) agrees with the JSON path.
		if out[i].Err != nil || out[i].CostCents.String() != r.CostCents || out[i].Priced != r.Priced {
			t.Errorf("%s: struct path %v %s priced=%v, JSON path %s priced=%v", v.ID, out[i].Err, out[i].CostCents, out[i].Priced, r.CostCents, r.Priced)
		}
		if v.Exact {
			if r.CostCents != v.Expected.CostCents || r.Priced != v.Expected.Priced {
				t.Errorf("%s: %s priced=%v, want %s priced=%v", v.ID, r.CostCents, r.Priced, v.Expected.CostCents, v.Expected.Priced)
			}
		} else {
			golden++
			if r.Priced == v.Expected.Priced && within1e9(r.CostCents, v.Expected.CostCents) {
				within++
			}
		}
		log.write(v.ID, r.CostCents, r.Priced)
	}
	log.close(t, "go", "vectors")
	t.Logf("%d vectors; golden: %d of %d within 1e-9 of the reference", len(vectors), within, golden)
}

func TestPriceJSONHostile(t *testing.T) {
	e := newEngine(t)
	for _, c := range []struct {
		event  string
		status Status
		msg    string
	}{
		{"", ErrInvalidInput, "malformed JSON"},
		{"{\"model\":\"gpt-4o\xff\"}", ErrInvalidUTF8, "event: invalid UTF-8"},
		{`{"model":"gpt-4o","tokenIn":5}`, ErrInvalidInput, "unknown field `tokenIn`"},
		{`{"model":"gpt-4o","tokensIn":-1}`, ErrInvalidInput, "tokensIn: must not be negative"},
		{`{"model":"gpt-4o","tokensIn":9007199254740993}`, ErrInvalidInput, "2^53"},
	} {
		_, err := e.PriceJSON([]byte(c.event))
		if !errors.Is(err, c.status) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%q: got %v, want %v containing %q", c.event, err, c.status, c.msg)
		}
	}
	if r, _ := rawPriceJSON(e, "engine", nil, true, 5, 64); r.status != ErrNull {
		t.Errorf("NULL event with length: %+v", r)
	}
	ev := []byte(`{"provider":"openai","model":"gpt-4o","tokensIn":1000}`)
	r, buf := rawPriceJSON(e, "engine", ev, false, len(ev), 4)
	if r.status != ErrBufferTooSmall || r.outLen <= 4 || string(buf) != "\x00\x00\x00\x00" {
		t.Fatalf("small buffer: %+v %q", r, buf)
	}
	needed := r.outLen
	r, buf = rawPriceJSON(e, "engine", ev, false, len(ev), needed)
	// 1000 * 2.5e-6 USD = 0.0025 USD = 0.25 cents
	if r.status != OK || r.outLen != needed || !strings.HasPrefix(string(buf), `{"costCents":"0.25"`) {
		t.Fatalf("exact buffer: %+v %q", r, buf)
	}
	// use after errors
	if res, err := e.PriceJSON(ev); err != nil || res.CostCents != "0.25" {
		t.Fatalf("after errors: %v %+v", err, res)
	}
}

func TestPriceBatchHostileItems(t *testing.T) {
	e := newEngine(t)
	good := PriceItem{Provider: "openai", Model: "gpt-4o", Usage: Usage{TokensIn: 1000}}
	tooMany := good
	tooMany.TokensIn = 1<<53 + 1
	noModel := good
	noModel.Model = ""
	badTier := good
	badTier.ServiceTier = 99
	badUTF8 := good
	badUTF8.Model = "gpt\xff"
	negative := Cents{Hi: -1, Lo: ^uint64(0)}
	negCost := good
	negCost.ProviderCostCents = &negative
	out, err := e.PriceBatch([]PriceItem{good, tooMany, noModel, badTier, badUTF8, negCost, good})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus := []Status{OK, ErrInvalidInput, ErrInvalidInput, ErrInvalidInput, ErrInvalidUTF8, ErrInvalidInput, OK}
	for i, w := range wantStatus {
		got := OK
		if out[i].Err != nil {
			got = out[i].Err.(*Error).Status
		}
		if got != w {
			t.Errorf("item %d: status %v, want %v", i, got, w)
		}
	}
	// 1000 * 2.5e-6 USD = 0.25 cents, unaffected by its bad neighbours
	if out[6].CostCents.String() != "0.25" || out[1].CostCents.String() != "0" {
		t.Fatalf("costs: %s %s", out[6].CostCents, out[1].CostCents)
	}
	if out, err := e.PriceBatch(nil); err != nil || len(out) != 0 {
		t.Fatalf("empty batch: %v %v", out, err)
	}
	big := make([]PriceItem, 1<<16+1)
	if _, err := e.PriceBatch(big); !errors.Is(err, ErrLimit) {
		t.Fatalf("oversize batch: %v", err)
	}
}

func TestConcurrentGoroutinesOnOneEngine(t *testing.T) {
	e := newEngine(t)
	ev := []byte(`{"provider":"openai","model":"gpt-4o","tokensIn":1200,"cachedTokens":800,"tokensOut":350}`)
	item := PriceItem{Provider: "openai", Model: "gpt-4o", Usage: Usage{TokensIn: 1200, CachedTokens: 800, TokensOut: 350}}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := NewBatch()
			res := make([]PriceOut, 1)
			for i := 0; i < 300; i++ {
				// 0.75 cents: data/ffi/vectors.jsonl line 1
				r, err := e.PriceJSON(ev)
				if err != nil || r.CostCents != "0.75" {
					errs <- errors.New("json: " + r.CostCents)
					return
				}
				if err := e.PriceBatchInto(b, []PriceItem{item}, res); err != nil || res[0].CostCents.String() != "0.75" {
					errs <- errors.New("batch")
					return
				}
				if _, err := e.PriceJSON([]byte("{")); !errors.Is(err, ErrInvalidInput) {
					errs <- errors.New("error path")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCloseIsIdempotentAndUseAfterCloseFails(t *testing.T) {
	e, err := NewEngine(nil)
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	e.Close()
	if _, err := e.PriceJSON([]byte(`{"model":"gpt-4o"}`)); !errors.Is(err, ErrInvalidHandle) {
		t.Fatalf("after close: %v", err)
	}
}

// Web searches are priced and reported apart: gpt-4o-mini states $0.025 per search
// (search_context_size_medium), so 2 searches are 5 cents; its tokens 100 × 1.5e-07 +
// 10 × 6e-07 USD are 0.0021 cents. Batch and JSON paths give the same total.
func TestPriceJSONWebSearchPart(t *testing.T) {
	e := newEngine(t)
	r, err := e.PriceJSON([]byte(`{"provider":"openai","model":"gpt-4o-mini","tokensIn":100,"tokensOut":10,"webSearchRequests":2}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.CostCents != "5.0021" || r.WebSearchCents != "5" {
		t.Fatalf("got cost %s, web searches %s", r.CostCents, r.WebSearchCents)
	}
	out, err := e.PriceBatch([]PriceItem{{Provider: "openai", Model: "gpt-4o-mini", Usage: Usage{TokensIn: 100, TokensOut: 10, WebSearchRequests: 2}}})
	if err != nil || out[0].CostCents.String() != "5.0021" {
		t.Fatalf("batch: %v %v", err, out)
	}
}
