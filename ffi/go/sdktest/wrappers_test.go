// Package sdktest runs tollgate.Transport under the real provider SDKs (openai-go,
// anthropic-sdk-go, google.golang.org/genai, the AWS SDK v2 Bedrock runtime client) against
// the replay server (ffi/replay/server.py), which serves the recordings under
// ../shared/fixtures/providers on 127.0.0.1. It is its own module so the binding's go.mod
// does not depend on the SDKs.
package sdktest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	tollgate "github.com/tollgate-engine/tollgate-engine/ffi/go"
)

var (
	base     string
	port     string
	fixtures = filepath.Join(sharedDir(), "fixtures", "providers")
	expected = map[string]expectation{}
)

type lineItem struct {
	Model              string  `json:"model"`
	TokensIn           uint64  `json:"tokensIn"`
	CachedTokens       uint64  `json:"cachedTokens"`
	CacheWrite5mTokens uint64  `json:"cacheWrite5mTokens"`
	CacheWrite1hTokens uint64  `json:"cacheWrite1hTokens"`
	TokensOut          uint64  `json:"tokensOut"`
	ReasoningTokens    *uint64 `json:"reasoningTokens"`
}

type expectation struct {
	File         string     `json:"file"`
	Provider     string     `json:"provider"`
	RequestModel string     `json:"requestModel"`
	LineItems    []lineItem `json:"lineItems"`
}

// sharedDir: ../shared beside the repository, or $TOLLGATE_SHARED_DIR when set (as in the
// binding's own suite, ffi/go/common_test.go).
func sharedDir() string {
	if d := os.Getenv("TOLLGATE_SHARED_DIR"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "..", "..", "shared")
}

func TestMain(m *testing.M) {
	f, err := os.Open(filepath.Join(fixtures, "expected.jsonl"))
	if err != nil {
		// Like sharedOrSkip in ffi/go/common_test.go: a plain clone skips (and says so),
		// CI (TOLLGATE_REQUIRE_SHARED set) fails instead.
		if os.Getenv("TOLLGATE_REQUIRE_SHARED") != "" {
			fmt.Printf("FAIL: %s is absent and TOLLGATE_REQUIRE_SHARED is set\n", fixtures)
			os.Exit(1)
		}
		fmt.Printf("SKIPPED: %s is absent (it lives in ../shared beside the repository): %v\n", fixtures, err)
		os.Exit(0)
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e expectation
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.File != "" {
			expected[e.File] = e
		}
	}
	f.Close()
	cmd := exec.Command("python3", filepath.Join("..", "..", "replay", "server.py"), "--fixtures", fixtures)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Println("replay server:", err)
		os.Exit(1)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	port = strings.TrimSpace(strings.TrimPrefix(line, "PORT "))
	base = "http://127.0.0.1:" + port + "/r"
	code := m.Run()
	stdin.Close()
	_ = cmd.Wait()
	os.Exit(code)
}

type errs struct {
	mu  sync.Mutex
	all []error
}

func (e *errs) add(err error) { e.mu.Lock(); e.all = append(e.all, err); e.mu.Unlock() }

func newEngine(t *testing.T) *tollgate.Engine {
	t.Helper()
	e, err := tollgate.NewEngine(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func transport(e *tollgate.Engine, provider string, es *errs) *http.Client {
	return &http.Client{Transport: &tollgate.Transport{Engine: e, Provider: provider, Default: tollgate.Call{CustomerID: "cust"}, OnError: es.add}}
}

type row [7]uint64

func byModel(t *testing.T, e *tollgate.Engine) map[string]row {
	t.Helper()
	rows, err := e.Margin([]byte(`{"groupBy":["model"]}`))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]row{}
	for _, r := range rows {
		tk := r.Tokens
		out[*r.Model] = row{r.Events, tk.TokensIn, tk.CachedTokens, tk.CacheWrite5mTokens, tk.CacheWrite1hTokens, tk.TokensOut, tk.ReasoningTokens}
	}
	return out
}

func want(files ...string) map[string]row {
	out := map[string]row{}
	for _, f := range files {
		for _, it := range expected[f].LineItems {
			r := out[it.Model]
			var reasoning uint64
			if it.ReasoningTokens != nil {
				reasoning = *it.ReasoningTokens
			}
			add := row{1, it.TokensIn, it.CachedTokens, it.CacheWrite5mTokens, it.CacheWrite1hTokens, it.TokensOut, reasoning}
			for i := range r {
				r[i] += add[i]
			}
			out[it.Model] = r
		}
	}
	return out
}

func oai(spec string, hc *http.Client, retries int) openai.Client {
	return openai.NewClient(option.WithAPIKey("sk-test"), option.WithBaseURL(base+"/"+spec+"/v1/"), option.WithHTTPClient(hc), option.WithMaxRetries(retries))
}

func ant(spec string, hc *http.Client, retries int) anthropic.Client {
	return anthropic.NewClient(aoption.WithAPIKey("sk-ant-test"), aoption.WithBaseURL(base+"/"+spec+"/"), aoption.WithHTTPClient(hc), aoption.WithMaxRetries(retries))
}

var chatParams = openai.ChatCompletionNewParams{
	Model:    "gpt-4o-mini",
	Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello PLANTED-MARKER-7f3a9c")},
}

var msgParams = anthropic.MessageNewParams{
	Model:     "claude-sonnet-4-6",
	MaxTokens: 64,
	Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hello PLANTED-MARKER-7f3a9c"))},
}

func callChat(ctx context.Context, c openai.Client, stream bool) error {
	if stream {
		s := c.Chat.Completions.NewStreaming(ctx, chatParams)
		for s.Next() {
		}
		return s.Err()
	}
	_, err := c.Chat.Completions.New(ctx, chatParams)
	return err
}

func callMessages(ctx context.Context, c anthropic.Client, stream bool) error {
	if stream {
		s := c.Messages.NewStreaming(ctx, msgParams)
		for s.Next() {
		}
		return s.Err()
	}
	_, err := c.Messages.New(ctx, msgParams)
	return err
}

func TestEveryRecording(t *testing.T) {
	chat := map[string]bool{
		"openai_chat_1.json": false, "openai_chat_3.json": false, "openai_chat_4.json": false,
		"openai_chat_stream_1.sse": true, "azure_chat_stream_1.jsonl": true,
		"openrouter_chat_1.json": false, "openrouter_chat_2.json": false, "openrouter_chat_stream_2.sse": true,
		"groq_chat_1.json": false, "vllm_chat_stream_1.sse": true, "cerebras_chat_1.json": false, "deepseek_chat_1.json": false,
	}
	messages := map[string]bool{
		"anthropic_messages_1.json": false, "anthropic_messages_2.json": false, "anthropic_messages_3.json": false,
		"anthropic_messages_5.json": false, "anthropic_stream_1.sse": true, "anthropic_stream_3.sse": true,
		"anthropic_stream_5.sse": true, "anthropic_compat_stream_1.jsonl": true,
	}
	for file, stream := range chat {
		t.Run(file, func(t *testing.T) {
			e, es := newEngine(t), &errs{}
			c := oai(file, transport(e, expected[file].Provider, es), 0)
			for i := 0; i < 2; i++ { // twice: the same response is one record
				if err := callChat(context.Background(), c, stream); err != nil {
					t.Fatal(err)
				}
			}
			if len(es.all) != 0 || fmt.Sprint(byModel(t, e)) != fmt.Sprint(want(file)) {
				t.Fatalf("got %v (errors %v), want %v", byModel(t, e), es.all, want(file))
			}
		})
	}
	for file, stream := range messages {
		t.Run(file, func(t *testing.T) {
			e, es := newEngine(t), &errs{}
			c := ant(file, transport(e, "anthropic", es), 0)
			for i := 0; i < 2; i++ {
				if err := callMessages(context.Background(), c, stream); err != nil {
					t.Fatal(err)
				}
			}
			if len(es.all) != 0 || fmt.Sprint(byModel(t, e)) != fmt.Sprint(want(file)) {
				t.Fatalf("got %v (errors %v), want %v", byModel(t, e), es.all, want(file))
			}
		})
	}
}

func TestPerCallContext(t *testing.T) {
	e, es := newEngine(t), &errs{}
	c := oai("openai_chat_1.json", transport(e, "openai", es), 0)
	ctx := tollgate.WithCall(context.Background(), tollgate.Call{CustomerID: "cust_B", RunID: "run-7", AgentID: "support"})
	if err := callChat(ctx, c, false); err != nil {
		t.Fatal(err)
	}
	rows, _ := e.Margin([]byte(`{"groupBy":["customer","run","agent"]}`))
	if len(rows) != 1 || *rows[0].CustomerID != "cust_B" || *rows[0].RunID != "run-7" || *rows[0].AgentID != "support" || len(es.all) != 0 {
		t.Fatalf("rows %+v errors %v", rows, es.all)
	}
}

// truncatedOnly: one explicit truncated event booked (unpriced, no tokens, no cost: never a
// fake zero-token call priced at 0) and one warning carrying it.
func truncatedOnly(t *testing.T, e *tollgate.Engine, es *errs) {
	t.Helper()
	var te *tollgate.TrackingError
	if len(es.all) != 1 || !errors.As(es.all[0], &te) || te.Kind != "truncated" || te.Record["customerId"] != "cust" {
		t.Fatalf("want one truncated warning, got %v", es.all)
	}
	if te.Err != nil || te.Result == nil || te.Result.Status != "accepted" || te.Result.Priced || te.Event["type"] != "truncated" || te.Event["model"] == "" {
		t.Fatalf("truncated event %v booked as %+v (err %v)", te.Event, te.Result, te.Err)
	}
	if len(te.Result.Warnings) != 1 || !strings.HasPrefix(te.Result.Warnings[0], "truncated: ") {
		t.Fatalf("warnings %v", te.Result.Warnings)
	}
	if seen, _ := te.Record["bytesSeen"].(int); seen <= 0 {
		t.Fatalf("record %v", te.Record)
	}
	rows, err := e.Margin([]byte(`{"groupBy":["customer","model"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || *rows[0].CustomerID != "cust" || *rows[0].Model != te.Event["model"] || rows[0].Events != 1 || rows[0].UnpricedEvents != 1 || rows[0].CostCents != "0" || rows[0].Tokens.TokensIn+rows[0].Tokens.CachedTokens+rows[0].Tokens.CacheWrite5mTokens+rows[0].Tokens.CacheWrite1hTokens+rows[0].Tokens.TokensOut+rows[0].Tokens.ReasoningTokens != 0 {
		t.Fatalf("rows %+v", rows)
	}
}

func TestStreamStoppedEarly(t *testing.T) {
	e, es := newEngine(t), &errs{}
	c := oai("openai_chat_stream_1.sse,repeat=2000,chunk=200", transport(e, "openai", es), 0)
	s := c.Chat.Completions.NewStreaming(context.Background(), chatParams)
	s.Next()
	s.Close()
	truncatedOnly(t, e, es)
}

func TestStreamCutByServer(t *testing.T) {
	e, es := newEngine(t), &errs{}
	if err := callChat(context.Background(), oai("openai_chat_stream_1.sse,cut=900", transport(e, "openai", es), 0), true); err == nil {
		t.Fatal("the cut reaches the caller")
	}
	truncatedOnly(t, e, es)
	e2, es2 := newEngine(t), &errs{}
	if err := callMessages(context.Background(), ant("anthropic_stream_1.sse,cut=2000", transport(e2, "anthropic", es2), 0), true); err == nil {
		t.Fatal("the cut reaches the caller")
	}
	truncatedOnly(t, e2, es2)
}

func TestHTTPErrors(t *testing.T) {
	for _, status := range []int{400, 429, 500} {
		e, es := newEngine(t), &errs{}
		err := callChat(context.Background(), oai(fmt.Sprintf("openai_chat_1.json,status=%d", status), transport(e, "openai", es), 0), false)
		var oe *openai.Error
		if !errors.As(err, &oe) || oe.StatusCode != status {
			t.Fatalf("openai %d: %v", status, err)
		}
		err = callMessages(context.Background(), ant(fmt.Sprintf("anthropic_messages_1.json,status=%d", status), transport(e, "anthropic", es), 0), false)
		var ae *anthropic.Error
		if !errors.As(err, &ae) || ae.StatusCode != status {
			t.Fatalf("anthropic %d: %v", status, err)
		}
		if len(byModel(t, e)) != 0 || len(es.all) != 0 {
			t.Fatalf("%d: tracked %v errors %v", status, byModel(t, e), es.all)
		}
	}
}

func served(t *testing.T, tag string) int {
	r, err := http.Get("http://127.0.0.1:" + port + "/_count/" + tag)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var v struct{ Count int }
	_ = json.NewDecoder(r.Body).Decode(&v)
	return v.Count
}

func TestRetryAfter500IsOneRecord(t *testing.T) {
	e, es := newEngine(t), &errs{}
	if err := callChat(context.Background(), oai("openai_chat_1.json,failonce=g-oai,tag=g-oai", transport(e, "openai", es), 2), false); err != nil {
		t.Fatal(err)
	}
	if err := callMessages(context.Background(), ant("anthropic_messages_5.json,failonce=g-ant,tag=g-ant", transport(e, "anthropic", es), 2), false); err != nil {
		t.Fatal(err)
	}
	if served(t, "g-oai") != 2 || served(t, "g-ant") != 2 {
		t.Fatal("the SDKs retried once")
	}
	if len(es.all) != 0 || fmt.Sprint(byModel(t, e)) != fmt.Sprint(want("openai_chat_1.json", "anthropic_messages_5.json")) {
		t.Fatalf("got %v errors %v", byModel(t, e), es.all)
	}
}

func TestConcurrentCalls(t *testing.T) {
	// 32 goroutines replaying one response (one id) for one customer and run: one record,
	// the other 31 duplicates, nothing reported.
	one := newEngine(t)
	if err := callChat(context.Background(), oai("openai_chat_4.json", transport(one, "openai", &errs{}), 0), false); err != nil {
		t.Fatal(err)
	}
	single, _ := one.CustomerMargin("cust")
	e, es := newEngine(t), &errs{}
	c := oai("openai_chat_4.json", transport(e, "openai", es), 0)
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := tollgate.WithCall(context.Background(), tollgate.Call{CustomerID: "cust", RunID: "run-32"})
			if err := callChat(ctx, c, false); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	m, err := e.CustomerMargin("cust")
	if err != nil {
		t.Fatal(err)
	}
	if m.Events != 1 || m.CostCents.String() != single.CostCents.String() || len(es.all) != 0 {
		t.Fatalf("events %d cost %s (single %s) errors %v", m.Events, m.CostCents, single.CostCents, es.all)
	}
}

func TestEngineErrorLeavesTheCallAlone(t *testing.T) {
	e, es := newEngine(t), &errs{}
	c := oai("openai_chat_1.json", transport(e, "openai", es), 0)
	e.Close()
	r, err := c.Chat.Completions.New(context.Background(), chatParams)
	if err != nil || r.Usage.CompletionTokens != 363 {
		t.Fatalf("call: %v %v", r, err)
	}
	var te *tollgate.TrackingError
	if len(es.all) != 1 || !errors.As(es.all[0], &te) || te.Kind != "engine" {
		t.Fatalf("errors %v", es.all)
	}
}
