package tollgate

// Rate-card sync through the Go binding against a registry served from 127.0.0.1 (httptest):
// 200 (published, with its diff and history), 304 on the conditional request, an invalid
// registry and a 500 (nothing published, the error says why), the history after a reopen,
// and the background refresher.
//
// Hand calculation: cardA prices gpt-4o input at 1e-06 USD = 0.0001 cent per token (the
// embedded card: 2.5e-06), so 1000 input tokens cost 0.1 cent after the pull (0.25 before).

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	cardA = `{"gpt-4o": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1e-06, "output_cost_per_token": 4e-06},
 "acme-llm": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 5e-06, "output_cost_per_token": 5e-06}}`
	invalidCard = `{"gpt-4o": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": "cheap"}}`
)

var syncEvent = []byte(`{"customerId":"acme","provider":"openai","model":"gpt-4o","tokensIn":1000}`)

type registry struct {
	mu     sync.Mutex
	status int
	body   string
	etag   bool
	seen   []string
	url    string
}

func (r *registry) set(status int, body string, etag bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status, r.body, r.etag = status, body, etag
}

func serveRegistry(t *testing.T) *registry {
	reg := &registry{status: 200, body: cardA, etag: true}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		reg.mu.Lock()
		defer reg.mu.Unlock()
		inm := req.Header.Get("If-None-Match")
		reg.seen = append(reg.seen, inm)
		if reg.etag && inm == `"a"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		if reg.status == 200 && reg.etag {
			w.Header().Set("ETag", `"a"`)
		}
		w.WriteHeader(reg.status)
		w.Write([]byte(reg.body))
	}))
	t.Cleanup(srv.Close)
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("the test server must listen on 127.0.0.1: %s", srv.URL)
	}
	reg.url = srv.URL + "/model_prices.json"
	return reg
}

func priceCents(t *testing.T, e *Engine) string {
	t.Helper()
	r, err := e.PriceJSON(syncEvent)
	if err != nil {
		t.Fatal(err)
	}
	return r.CostCents
}

func noRetries() *SyncOptions {
	zero := uint32(0)
	return &SyncOptions{Retries: &zero}
}

func TestPullRateCard200_304_Invalid_500_AndHistory(t *testing.T) {
	reg := serveRegistry(t)
	dir := t.TempDir()
	e, err := OpenEngine(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "embedded price", priceCents(t, e), "0.25")
	r, err := e.PullRateCard(reg.url, noRetries())
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "outcome", []any{r.Source, r.Outcome, len(r.Published)}, []any{reg.url, "published", 1})
	card := r.Published[0]
	sum := sha256.Sum256([]byte(cardA))
	eq(t, "content", card.Content, hex.EncodeToString(sum[:]))
	eq(t, "added", card.Added, []string{"acme-llm"})
	if !strings.Contains(strings.Join(card.Repriced, ","), "gpt-4o") {
		t.Fatalf("repriced: %v", card.Repriced)
	}
	eq(t, "pulled price", priceCents(t, e), "0.1")
	r, err = e.PullRateCard(reg.url, noRetries())
	if err != nil {
		t.Fatal(err)
	}
	reg.mu.Lock()
	last := reg.seen[len(reg.seen)-1]
	reg.mu.Unlock()
	eq(t, "304", []any{r.Outcome, len(r.Published), last}, []any{"not_modified", 0, `"a"`})
	reg.set(200, invalidCard, false)
	_, err = e.PullRateCard(reg.url, noRetries())
	if !errors.Is(err, ErrRateCard) || !strings.Contains(err.Error(), "nothing published") || !strings.Contains(err.Error(), "gpt-4o") {
		t.Fatalf("invalid registry: %v", err)
	}
	reg.set(500, "down", false)
	_, err = e.PullRateCard(reg.url, noRetries())
	if !errors.Is(err, ErrIO) || !strings.Contains(err.Error(), "HTTP status 500") {
		t.Fatalf("500: %v", err)
	}
	h, err := e.RateCardHistory()
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "history", h, []RateCardHistoryEntry{{EffectiveFromMs: card.EffectiveFromMs, Content: card.Content, Models: 2}})
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e, err = OpenEngine(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	h, _ = e.RateCardHistory()
	eq(t, "history after reopen", len(h), 1)
	eq(t, "price after reopen", priceCents(t, e), "0.1")
}

func TestPullFromAFileAndMisuse(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "card.json")
	if err := os.WriteFile(file, []byte(cardA), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := OpenEngine(filepath.Join(dir, "data"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	r, err := e.PullRateCard(file, nil)
	eq(t, "file", []any{r.Outcome, err}, []any{"published", nil})
	r, err = e.PullRateCard(file, nil)
	eq(t, "same prices", []any{r.Outcome, err}, []any{"unchanged", nil})
	if _, err := e.PullRateCard(file, &SyncOptions{Timeout: time.Nanosecond}); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("timeout 0 ms: %v", err)
	}
	m := newEngine(t)
	if _, err := m.PullRateCard(file, nil); !errors.Is(err, ErrMisuse) {
		t.Fatalf("in-memory pull: %v", err)
	}
	if _, err := m.RateCardHistory(); !errors.Is(err, ErrMisuse) {
		t.Fatalf("in-memory history: %v", err)
	}
}

func firstPull(t *testing.T, r *Refresher) *RefresherStatus {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, err := r.Status()
		if err != nil {
			t.Fatal(err)
		}
		if s.Pulls >= 1 || time.Now().After(deadline) {
			return s
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRefresher(t *testing.T) {
	reg := serveRegistry(t)
	e, err := OpenEngine(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.StartRefresher(reg.url, noRetries(), time.Minute, 0)
	if err != nil {
		t.Fatal(err)
	}
	s := firstPull(t, r)
	if s.Pulls != 1 || s.Last == nil || !s.Last.OK || s.Last.Report.Outcome != "published" {
		t.Fatalf("status: %+v", s)
	}
	r.Stop()
	r.Stop()
	eq(t, "refreshed price", priceCents(t, e), "0.1")
	reg.set(200, invalidCard, false)
	r, err = e.StartRefresher(reg.url, noRetries(), time.Minute, 0)
	if err != nil {
		t.Fatal(err)
	}
	s = firstPull(t, r)
	if s.Last == nil || s.Last.OK || s.Last.Status != ErrRateCard || !strings.Contains(s.Last.Error, "nothing published") {
		t.Fatalf("invalid: %+v", s.Last)
	}
	if _, err := e.StartRefresher(reg.url, nil, 10*time.Millisecond, 0); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("interval 10 ms: %v", err)
	}
	if err := e.Close(); err != nil { // stops the running refresher first
		t.Fatal(err)
	}
	if _, err := r.Status(); !errors.Is(err, ErrInvalidHandle) {
		t.Fatalf("after close: %v", err)
	}
}
