package sdktest

// Call.Guard / Transport.Default.Guard under the real SDKs: a block never reaches the replay
// server (its per-tag request count stays 0) and comes back as *tollgate.GuardBlocked without
// SDK retries; a downgrade sends the suggested model (the replay server records the model
// each request asked for) and the call is booked as that model.
//
// Rates (LiteLLM registry, ../shared/tools/litellm_oracle.py): gpt-4.1 $2 / $8 per million
// input / output tokens, gpt-4.1-nano $0.10 / $0.40, gemini-2.5-pro $1.25 / $10,
// gemini-2.5-flash $0.30 / $2.50. The guard's estimate, 100,000 input + 100,000 output
// tokens, is 100 cents on gpt-4.1, 5 on gpt-4.1-nano, 112.5 on gemini-2.5-pro and 28 on
// gemini-2.5-flash.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/genai"

	tollgate "github.com/tollgate-engine/tollgate-engine/ffi/go"
)

var estimate = &tollgate.Usage{TokensIn: 100000, TokensOut: 100000}

func cents(t *testing.T, s string) *tollgate.Cents {
	t.Helper()
	c, err := tollgate.ParseCents(s)
	if err != nil {
		t.Fatal(err)
	}
	return &c
}

// guarded: an engine whose customer has a policy and has already spent `spent` cents (one
// tool event), so the remaining budget is known.
func guarded(t *testing.T, customer, spent string, p tollgate.Policy) *tollgate.Engine {
	t.Helper()
	e := newEngine(t)
	p.PolicyID, p.CustomerID = "p-"+customer, customer
	if r, err := e.UpsertPolicy(p); err != nil || r.Status != "accepted" {
		t.Fatalf("policy: %v %v", r, err)
	}
	ev := tollgate.Event{CustomerID: customer, Kind: tollgate.KindTool, ExternalCostCents: cents(t, spent), IdempotencyKey: "spend-" + customer}
	if r, err := e.Track(ev); err != nil || r.Status != "accepted" {
		t.Fatalf("spend: %v %v", r, err)
	}
	return e
}

func budget(t *testing.T, c string) *tollgate.Limit {
	return &tollgate.Limit{Cents: *cents(t, c), Period: tollgate.PeriodAll}
}

func guardClient(e *tollgate.Engine, provider string, g *tollgate.Guard, es *errs) *http.Client {
	t := &tollgate.Transport{Engine: e, Provider: provider, Default: tollgate.Call{CustomerID: "g", Guard: g}, OnError: es.add}
	if provider == "bedrock" {
		t.Base = &http.Transport{DisableKeepAlives: true} // as btransport: the AWS SDK and keep-alive
	}
	return &http.Client{Transport: t}
}

var (
	tags    atomic.Int64
	tagMemo sync.Map
)

// uniq: the replay-server tag for name in test t, unique in this process (the server's
// counts live as long as it does, and tests may run with -count N).
func uniq(t *testing.T, name string) string {
	key := fmt.Sprintf("%p/%s", t, name)
	v, loaded := tagMemo.LoadOrStore(key, fmt.Sprintf("%s-%d", name, tags.Add(1)))
	if !loaded {
		t.Cleanup(func() { tagMemo.Delete(key) }) // a later test may get the same *testing.T address
	}
	return v.(string)
}

type servedModel struct {
	Count int
	Model string
}

func servedAs(t *testing.T, tag string) servedModel {
	t.Helper()
	r, err := http.Get("http://127.0.0.1:" + port + "/_count/" + uniq(t, tag))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var v struct {
		Count int     `json:"count"`
		Model *string `json:"model"`
	}
	if err := json.NewDecoder(r.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	out := servedModel{Count: v.Count}
	if v.Model != nil {
		out.Model = *v.Model
	}
	return out
}

func blockedBy(t *testing.T, err error, reason string) {
	t.Helper()
	var gb *tollgate.GuardBlocked
	if !errors.As(err, &gb) || gb.Decision.Decision != tollgate.VerdictBlock || gb.Decision.Reason != reason {
		t.Fatalf("want *tollgate.GuardBlocked (%s), got %T %v", reason, err, err)
	}
}

// TestGuardBlocks: the budget (100 cents, all time) is spent: every SDK's call fails with
// *GuardBlocked at once (the SDKs' default retries left on: none happens), the provider is
// never asked, nothing but the spend is booked. With 1 cent left the same call goes through.
func TestGuardBlocks(t *testing.T) {
	calls := map[string]struct {
		provider string
		call     func(hc *http.Client, tag string) error
	}{
		"openai": {"openai", func(hc *http.Client, tag string) error {
			return callChat(context.Background(), oai("openai_chat_1.json,tag="+tag, hc, 2), false)
		}},
		"openai-stream": {"openai", func(hc *http.Client, tag string) error {
			return callChat(context.Background(), oai("openai_chat_stream_1.sse,tag="+tag, hc, 2), true)
		}},
		"anthropic": {"anthropic", func(hc *http.Client, tag string) error {
			return callMessages(context.Background(), ant("anthropic_messages_5.json,tag="+tag, hc, 2), false)
		}},
		"anthropic-stream": {"anthropic", func(hc *http.Client, tag string) error {
			return callMessages(context.Background(), ant("anthropic_stream_1.sse,tag="+tag, hc, 2), true)
		}},
		"gemini": {"gemini", func(hc *http.Client, tag string) error {
			return callGemini(context.Background(), gem(t, "gemini_generate_1.json,tag="+tag, hc), "gemini-2.5-flash", false)
		}},
		"bedrock": {"bedrock", func(hc *http.Client, tag string) error {
			return callConverse(context.Background(), bed("bedrock_converse_6.json,tag="+tag, hc, 3), expected["bedrock_converse_6.json"].RequestModel, false)
		}},
	}
	for name, c := range calls {
		t.Run(name, func(t *testing.T) {
			e, es := guarded(t, "g", "100", tollgate.Policy{Budget: budget(t, "100")}), &errs{}
			err := c.call(guardClient(e, c.provider, &tollgate.Guard{}, es), uniq(t, "gb-"+name))
			blockedBy(t, err, "budget_exceeded")
			if s := servedAs(t, "gb-"+name); s.Count != 0 {
				t.Fatalf("the provider was called %d times", s.Count)
			}
			if m, _ := e.CustomerMargin("g"); m.Events != 1 || len(es.all) != 0 {
				t.Fatalf("events %d errors %v", m.Events, es.all)
			}
			closedConnRetry(t, func(try int) error {
				ok, es2 := guarded(t, "g", "99", tollgate.Policy{Budget: budget(t, "100")}), &errs{}
				tg := fmt.Sprintf("ok-%s-%d", name, try)
				if err := c.call(guardClient(ok, c.provider, &tollgate.Guard{}, es2), uniq(t, tg)); err != nil {
					return err
				}
				if s := servedAs(t, tg); s.Count != 1 {
					t.Fatalf("served %d", s.Count)
				}
				if m, _ := ok.CustomerMargin("g"); m.Events != 2 || len(es2.all) != 0 {
					t.Fatalf("events %d errors %v", m.Events, es2.all)
				}
				return nil
			})
		})
	}
}

// TestGuardBlockIsNotRetried: openai-go and anthropic-sdk-go retry a call whose transport
// failed (with back-off); the block is an answer no SDK retries: one RoundTrip per call,
// counted by a RoundTripper around the Transport.
func TestGuardBlockIsNotRetried(t *testing.T) {
	e, es := guarded(t, "g", "100", tollgate.Policy{Budget: budget(t, "100")}), &errs{}
	var attempts int
	rt := &tollgate.Transport{Engine: e, Provider: "openai", Default: tollgate.Call{CustomerID: "g", Guard: &tollgate.Guard{}}, OnError: es.add}
	hc := &http.Client{Transport: countingRT{rt, &attempts}}
	err := callChat(context.Background(), oai("openai_chat_1.json,tag="+uniq(t, "gb-retry"), hc, 3), false)
	blockedBy(t, err, "budget_exceeded")
	if attempts != 1 || servedAs(t, "gb-retry").Count != 0 {
		t.Fatalf("attempts %d, served %d", attempts, servedAs(t, "gb-retry").Count)
	}
	rta := &tollgate.Transport{Engine: e, Provider: "anthropic", Default: tollgate.Call{CustomerID: "g", Guard: &tollgate.Guard{}}, OnError: es.add}
	err = callMessages(context.Background(), ant("anthropic_messages_5.json,tag="+uniq(t, "gb-retry-a"), &http.Client{Transport: countingRT{rta, &attempts}}, 3), false)
	blockedBy(t, err, "budget_exceeded")
	if attempts != 2 || servedAs(t, "gb-retry-a").Count != 0 || len(es.all) != 0 {
		t.Fatalf("attempts %d errors %v", attempts, es.all)
	}
	// The AWS SDK (3 attempts allowed) and genai (its retry options on) do not retry it either.
	rtb := &tollgate.Transport{Engine: e, Provider: "bedrock", Default: tollgate.Call{CustomerID: "g", Guard: &tollgate.Guard{}}, OnError: es.add}
	err = callConverse(context.Background(), bed("bedrock_converse_6.json,tag="+uniq(t, "gb-retry-b"), &http.Client{Transport: countingRT{rtb, &attempts}}, 3), expected["bedrock_converse_6.json"].RequestModel, false)
	blockedBy(t, err, "budget_exceeded")
	if attempts != 3 || servedAs(t, "gb-retry-b").Count != 0 || len(es.all) != 0 {
		t.Fatalf("attempts %d errors %v", attempts, es.all)
	}
	rtg := &tollgate.Transport{Engine: e, Provider: "gemini", Default: tollgate.Call{CustomerID: "g", Guard: &tollgate.Guard{}}, OnError: es.add}
	g, gerr := genai.NewClient(context.Background(), &genai.ClientConfig{
		APIKey: "test-key", Backend: genai.BackendGeminiAPI, HTTPClient: &http.Client{Transport: countingRT{rtg, &attempts}},
		HTTPOptions: genai.HTTPOptions{BaseURL: base + "/gemini_generate_1.json,tag=" + uniq(t, "gb-retry-g") + "/", RetryOptions: &genai.HTTPRetryOptions{}},
	})
	if gerr != nil {
		t.Fatal(gerr)
	}
	blockedBy(t, callGemini(context.Background(), g, "gemini-2.5-flash", false), "budget_exceeded")
	if attempts != 4 || servedAs(t, "gb-retry-g").Count != 0 || len(es.all) != 0 {
		t.Fatalf("attempts %d errors %v", attempts, es.all)
	}
}

type countingRT struct {
	rt http.RoundTripper
	n  *int
}

func (c countingRT) RoundTrip(r *http.Request) (*http.Response, error) {
	*c.n++
	return c.rt.RoundTrip(r)
}

// TestGuardDowngrade: 10 cents left of 100 and a downgrade policy gpt-4.1 -> gpt-4.1-nano:
// gpt-4.1 (100 cents) does not fit, gpt-4.1-nano (5) does. GuardDowngrade sends gpt-4.1-nano
// (the recording answers as gpt-4.1-nano-2025-04-14: 16 input, 363 output tokens, booked at
// 16 × 0.00001 + 363 × 0.00004 = 0.01468 cents); GuardBlock only checks and sends gpt-4.1 as
// asked; with 4 cents left nothing fits and the call is blocked.
func TestGuardDowngrade(t *testing.T) {
	policy := tollgate.Policy{Budget: budget(t, "100"), Action: tollgate.ActionDowngrade, Downgrade: map[string]string{"gpt-4.1": "gpt-4.1-nano"}}
	params := chatParams
	params.Model = "gpt-4.1"
	e, es := guarded(t, "g", "90", policy), &errs{}
	hc := guardClient(e, "openai", &tollgate.Guard{Mode: tollgate.GuardDowngrade, Usage: estimate}, es)
	c1 := oai("openai_chat_1.json,tag="+uniq(t, "dg-1"), hc, 0)
	r, err := c1.Chat.Completions.New(context.Background(), params)
	if err != nil || r.Usage.CompletionTokens != 363 {
		t.Fatalf("%v %v", r, err)
	}
	if s := servedAs(t, "dg-1"); s != (servedModel{1, "gpt-4.1-nano"}) {
		t.Fatalf("served %+v", s)
	}
	rows, err := e.Margin([]byte(`{"groupBy":["model"]}`))
	if err != nil {
		t.Fatal(err)
	}
	var booked string
	for _, row := range rows {
		if row.Model != nil {
			booked = *row.Model + " " + row.CostCents
		}
	}
	if booked != "gpt-4.1-nano-2025-04-14 0.01468" || len(es.all) != 0 {
		t.Fatalf("booked %q (rows %+v), errors %v", booked, rows, es.all)
	}

	// The request body kept everything else: the message the caller sent is still there.
	check := guarded(t, "g", "90", policy)
	hc2 := guardClient(check, "openai", &tollgate.Guard{Mode: tollgate.GuardBlock, Usage: estimate}, es)
	c2 := oai("openai_chat_1.json,tag="+uniq(t, "dg-2"), hc2, 0)
	if _, err := c2.Chat.Completions.New(context.Background(), params); err != nil {
		t.Fatal(err)
	}
	if s := servedAs(t, "dg-2"); s != (servedModel{1, "gpt-4.1"}) {
		t.Fatalf("served %+v", s)
	}

	none := guarded(t, "g", "96", policy)
	c3 := oai("openai_chat_1.json,tag="+uniq(t, "dg-3"), guardClient(none, "openai", &tollgate.Guard{Mode: tollgate.GuardDowngrade, Usage: estimate}, es), 2)
	_, err = c3.Chat.Completions.New(context.Background(), params)
	blockedBy(t, err, "budget_exceeded")
	if servedAs(t, "dg-3").Count != 0 || len(es.all) != 0 {
		t.Fatalf("served %d errors %v", servedAs(t, "dg-3").Count, es.all)
	}
}

// TestGuardDowngradeGeminiPath: Gemini names the model in the path; 40 cents left of 100,
// gemini-2.5-pro (112.5) does not fit, gemini-2.5-flash (28) does.
func TestGuardDowngradeGeminiPath(t *testing.T) {
	policy := tollgate.Policy{Budget: budget(t, "100"), Action: tollgate.ActionDowngrade, Downgrade: map[string]string{"gemini-2.5-pro": "gemini-2.5-flash"}}
	e, es := guarded(t, "g", "60", policy), &errs{}
	g := gem(t, "gemini_generate_1.json,tag="+uniq(t, "dg-gem"), guardClient(e, "gemini", &tollgate.Guard{Mode: tollgate.GuardDowngrade, Usage: estimate}, es))
	if err := callGemini(context.Background(), g, "gemini-2.5-pro", false); err != nil {
		t.Fatal(err)
	}
	if s := servedAs(t, "dg-gem"); s != (servedModel{1, "gemini-2.5-flash"}) {
		t.Fatalf("served %+v", s)
	}
	rows, err := e.Margin([]byte(`{"groupBy":["model"]}`))
	if err != nil {
		t.Fatal(err)
	}
	var booked []string
	for _, row := range rows {
		if row.Model != nil {
			booked = append(booked, *row.Model)
		}
	}
	if len(booked) != 1 || booked[0] != "gemini-2.5-flash" || len(es.all) != 0 {
		t.Fatalf("booked %v errors %v", booked, es.all)
	}
}

// TestGuardDowngradeBedrockNotApplied: a Bedrock request is signed before the transport sees
// it, so its model cannot be swapped: the call goes out as asked and OnError says so. 20
// cents left: Claude 3.7 Sonnet ($3 / $15 per million) is 180 cents, Claude 3 Haiku ($0.25 /
// $1.25) 15: a downgrade.
func TestGuardDowngradeBedrockNotApplied(t *testing.T) {
	model := expected["bedrock_converse_6.json"].RequestModel
	policy := tollgate.Policy{Budget: budget(t, "100"), Action: tollgate.ActionDowngrade, Downgrade: map[string]string{model: "anthropic.claude-3-haiku-20240307-v1:0"}}
	closedConnRetry(t, func(try int) error {
		e, es := guarded(t, "g", "80", policy), &errs{}
		tg := fmt.Sprintf("dg-bed-%d", try)
		b := bed("bedrock_converse_6.json,tag="+uniq(t, tg), guardClient(e, "bedrock", &tollgate.Guard{Mode: tollgate.GuardDowngrade, Usage: estimate}, es), 1)
		if err := callConverse(context.Background(), b, model, false); err != nil {
			return err
		}
		if s := servedAs(t, tg); s != (servedModel{1, model}) {
			t.Fatalf("served %+v", s)
		}
		var te *tollgate.TrackingError
		if len(es.all) != 1 || !errors.As(es.all[0], &te) || te.Kind != "guard" {
			t.Fatalf("errors %v", es.all)
		}
		return nil
	})
}

// closedConnRetry runs a scenario that makes a real Bedrock call again (from scratch: a new
// engine and tag) when the AWS SDK failed it with "use of closed network connection" while
// reading the replay server's answer, a flake of the SDK against this server that
// TestBedrock* see too (with or without our Transport); at most 3 tries, any other error
// fails the test.
func closedConnRetry(t *testing.T, scenario func(try int) error) {
	t.Helper()
	for try := 1; ; try++ {
		err := scenario(try)
		if err == nil {
			return
		}
		if try == 3 || !strings.Contains(err.Error(), "use of closed network connection") {
			t.Fatal(err)
		}
		t.Logf("try %d: %v", try, err)
	}
}

// TestGuardPerCall: the per-call Guard (WithCall) overrides the Transport's default, and
// GuardOff turns a default guard off for one call.
func TestGuardPerCall(t *testing.T) {
	e, es := guarded(t, "g", "100", tollgate.Policy{Budget: budget(t, "100")}), &errs{}
	hc := guardClient(e, "openai", nil, es)
	if err := callChat(context.Background(), oai("openai_chat_1.json,tag="+uniq(t, "pc-1"), hc, 0), false); err != nil {
		t.Fatal(err) // no guard: the call is made
	}
	ctx := tollgate.WithCall(context.Background(), tollgate.Call{Guard: &tollgate.Guard{}})
	blockedBy(t, callChat(ctx, oai("openai_chat_1.json,tag="+uniq(t, "pc-2"), hc, 0), false), "budget_exceeded")
	hcOn := guardClient(e, "openai", &tollgate.Guard{}, es)
	off := tollgate.WithCall(context.Background(), tollgate.Call{Guard: &tollgate.Guard{Mode: tollgate.GuardOff}})
	if err := callChat(off, oai("openai_chat_1.json,tag="+uniq(t, "pc-3"), hcOn, 0), false); err != nil {
		t.Fatal(err)
	}
	// Another customer has no policy: allowed.
	other := tollgate.WithCall(context.Background(), tollgate.Call{CustomerID: "h"})
	if err := callChat(other, oai("openai_chat_3.json,tag="+uniq(t, "pc-4"), hcOn, 0), false); err != nil {
		t.Fatal(err)
	}
	got := [4]int{servedAs(t, "pc-1").Count, servedAs(t, "pc-2").Count, servedAs(t, "pc-3").Count, servedAs(t, "pc-4").Count}
	if got != [4]int{1, 0, 1, 1} || len(es.all) != 0 {
		t.Fatalf("served %v errors %v", got, es.all)
	}
	// A Guard whose Mode is not one of the three is the caller's mistake: the call fails.
	bad := tollgate.WithCall(context.Background(), tollgate.Call{Guard: &tollgate.Guard{Mode: "maybe"}})
	if err := callChat(bad, oai("openai_chat_1.json,tag="+uniq(t, "pc-5"), hc, 0), false); err == nil || servedAs(t, "pc-5").Count != 0 {
		t.Fatalf("bad mode: %v", err)
	}
}

// TestGuardAllowFailsOpen: when Allow itself fails (the engine is closed) the call goes
// ahead and OnError gets the failure.
func TestGuardAllowFailsOpen(t *testing.T) {
	e, es := newEngine(t), &errs{}
	hc := guardClient(e, "openai", &tollgate.Guard{}, es)
	e.Close()
	if err := callChat(context.Background(), oai("openai_chat_1.json,tag="+uniq(t, "fo-1"), hc, 0), false); err != nil {
		t.Fatal(err)
	}
	var te *tollgate.TrackingError
	if servedAs(t, "fo-1").Count != 1 || len(es.all) != 2 || !errors.As(es.all[0], &te) || te.Kind != "engine" {
		t.Fatalf("errors %v", es.all)
	}
}
