package sdktest

// tollgate.Transport under google.golang.org/genai (Gemini API) and the AWS SDK v2 Bedrock
// runtime client (Converse, ConverseStream, InvokeModel, InvokeModelWithResponseStream: JSON
// bodies and the AWS event-stream binary) against the replay server.

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	btypes "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
	"google.golang.org/genai"

	tollgate "github.com/tollgate-engine/tollgate-engine/ffi/go"
)

func gem(t testing.TB, spec string, hc *http.Client) *genai.Client {
	t.Helper()
	c, err := genai.NewClient(context.Background(), &genai.ClientConfig{
		APIKey: "test-key", Backend: genai.BackendGeminiAPI, HTTPClient: hc,
		HTTPOptions: genai.HTTPOptions{BaseURL: base + "/" + spec + "/"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func bed(spec string, hc *http.Client, attempts int) *bedrockruntime.Client {
	cfg := aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		HTTPClient:       hc,
		RetryMaxAttempts: attempts,
	}
	return bedrockruntime.NewFromConfig(cfg, func(o *bedrockruntime.Options) {
		o.BaseEndpoint = aws.String(base + "/" + spec)
	})
}

// btransport: tollgate.Transport for the AWS SDK over connections that are not reused. With
// keep-alive connections to the replay server the AWS SDK now and then fails a 200 response
// with "use of closed network connection" (seen with a plain http.Client too, no Transport
// of ours involved); a fresh connection per call keeps these tests about tracking.
func btransport(e *tollgate.Engine, es *errs) *http.Client {
	return &http.Client{Transport: &tollgate.Transport{
		Base: &http.Transport{DisableKeepAlives: true}, Engine: e, Provider: "bedrock",
		Default: tollgate.Call{CustomerID: "cust"}, OnError: es.add,
	}}
}

var gemContents = genai.Text("hi PLANTED-MARKER-7f3a9c")

func callGemini(ctx context.Context, c *genai.Client, model string, stream bool) error {
	if stream {
		for _, err := range c.Models.GenerateContentStream(ctx, model, gemContents, nil) {
			if err != nil {
				return err
			}
		}
		return nil
	}
	_, err := c.Models.GenerateContent(ctx, model, gemContents, nil)
	return err
}

var converseMsgs = []btypes.Message{{
	Role:    btypes.ConversationRoleUser,
	Content: []btypes.ContentBlock{&btypes.ContentBlockMemberText{Value: "hello PLANTED-MARKER-7f3a9c"}},
}}

func callConverse(ctx context.Context, c *bedrockruntime.Client, model string, stream bool) error {
	if stream {
		out, err := c.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(model), Messages: converseMsgs})
		if err != nil {
			return err
		}
		s := out.GetStream()
		defer s.Close()
		for range s.Events() {
		}
		return s.Err()
	}
	_, err := c.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(model), Messages: converseMsgs})
	return err
}

var invokeBody = []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":64,"messages":[{"role":"user","content":"hello PLANTED-MARKER-7f3a9c"}]}`)

func callInvoke(ctx context.Context, c *bedrockruntime.Client, model string, stream bool) error {
	if stream {
		out, err := c.InvokeModelWithResponseStream(ctx, &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: aws.String(model), Body: invokeBody})
		if err != nil {
			return err
		}
		s := out.GetStream()
		defer s.Close()
		for range s.Events() {
		}
		return s.Err()
	}
	_, err := c.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(model), Body: invokeBody})
	return err
}

func TestGeminiEveryRecording(t *testing.T) {
	cases := []struct {
		file, model string
		stream      bool
	}{
		{"gemini_generate_1.json", "gemini-2.5-flash", false},
		{"gemini_generate_3.json", "gemini-3-pro-preview", false},
		{"gemini_stream_1.sse", "gemini-3-flash-preview", true},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			e, es := newEngine(t), &errs{}
			g := gem(t, c.file, transport(e, "gemini", es))
			for i := 0; i < 2; i++ { // twice: the same response (same responseId) is one record
				if err := callGemini(context.Background(), g, c.model, c.stream); err != nil {
					t.Fatal(err)
				}
			}
			if len(es.all) != 0 || fmt.Sprint(byModel(t, e)) != fmt.Sprint(want(c.file)) {
				t.Fatalf("got %v (errors %v), want %v", byModel(t, e), es.all, want(c.file))
			}
		})
	}
}

func TestBedrockEveryRecording(t *testing.T) {
	cases := []struct {
		file, spec, model string
		invoke, stream    bool
	}{
		{"bedrock_converse_1.json", "", "", false, false},
		{"bedrock_converse_2.json", "", "", false, false},
		{"bedrock_converse_4.json", "", "", false, false},
		{"bedrock_converse_6.json", "", "", false, false},
		{"bedrock_conversestream_1.eventstream", "", "", false, true},
		{"bedrock_conversestream_2.jsonl", "", "", false, true},
		{"anthropic_bedrock_invoke_1.json", "", "eu.anthropic.claude-haiku-4-5-20251001-v1:0", true, false},
		{"anthropic_stream_1.sse", "invoke_stream=anthropic_stream_1.sse", "anthropic.claude-sonnet-4-20250514-v1:0", true, true},
	}
	for _, c := range cases {
		name := c.file
		if c.spec != "" {
			name = c.spec
		}
		t.Run(name, func(t *testing.T) {
			spec, model := c.spec, c.model
			if spec == "" {
				spec = c.file
			}
			if model == "" {
				model = expected[c.file].RequestModel
			}
			e, es := newEngine(t), &errs{}
			b := bed(spec, btransport(e, es), 1)
			call := callConverse
			if c.invoke {
				call = callInvoke
			}
			if err := call(context.Background(), b, model, c.stream); err != nil {
				t.Fatal(err)
			}
			if len(es.all) != 0 || fmt.Sprint(byModel(t, e)) != fmt.Sprint(want(c.file)) {
				t.Fatalf("got %v (errors %v), want %v", byModel(t, e), es.all, want(c.file))
			}
		})
	}
}

func TestGeminiBedrockStreamCutByServer(t *testing.T) {
	e, es := newEngine(t), &errs{}
	if err := callGemini(context.Background(), gem(t, "gemini_stream_1.sse,cut=1200", transport(e, "gemini", es)), "gemini-3-flash-preview", true); err == nil {
		t.Fatal("the cut reaches the caller")
	}
	truncatedOnly(t, e, es)
	// The AWS SDK's event-stream reader ends the stream without an error when the
	// connection breaks (s.Err() is nil): the truncated record is the only trace of the cut.
	e2, es2 := newEngine(t), &errs{}
	_ = callConverse(context.Background(), bed("bedrock_conversestream_1.eventstream,cut=1500", btransport(e2, es2), 1), "us.amazon.nova-micro-v1:0", true)
	truncatedOnly(t, e2, es2)
}

func TestBedrockStreamStoppedEarly(t *testing.T) {
	// hold=N: the server sends the first N bytes (no metadata event) and then nothing until
	// the client goes away; the caller closes the event stream after its first event.
	e, es := newEngine(t), &errs{}
	b := bed("bedrock_conversestream_1.eventstream,hold=1500", btransport(e, es), 1)
	out, err := b.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{ModelId: aws.String("us.amazon.nova-micro-v1:0"), Messages: converseMsgs})
	if err != nil {
		t.Fatal(err)
	}
	s := out.GetStream()
	<-s.Events()
	// Close may return the error its own reader goroutine saw when Close shut the connection
	// under it ("use of closed network connection"): the SDK racing itself, about 1 run in 40.
	if err := s.Close(); err != nil && !strings.Contains(err.Error(), "use of closed network connection") {
		t.Fatal(err)
	}
	truncatedOnly(t, e, es)
}

func TestGeminiBedrockHTTPErrors(t *testing.T) {
	for _, status := range []int{400, 429, 500} {
		e, es := newEngine(t), &errs{}
		err := callGemini(context.Background(), gem(t, fmt.Sprintf("gemini_generate_1.json,status=%d", status), transport(e, "gemini", es)), "gemini-2.5-flash", false)
		var ge genai.APIError
		if !errors.As(err, &ge) || ge.Code != status {
			t.Fatalf("gemini %d: %v", status, err)
		}
		err = callConverse(context.Background(), bed(fmt.Sprintf("bedrock_converse_1.json,status=%d", status), btransport(e, es), 1), "m", false)
		var ae smithy.APIError
		var re *awshttp.ResponseError
		if !errors.As(err, &ae) || !errors.As(err, &re) || re.HTTPStatusCode() != status {
			t.Fatalf("bedrock %d: %v", status, err)
		}
		if len(byModel(t, e)) != 0 || len(es.all) != 0 {
			t.Fatalf("%d: tracked %v errors %v", status, byModel(t, e), es.all)
		}
	}
}

func TestBedrockRetryAfter500IsOneRecord(t *testing.T) {
	e, es := newEngine(t), &errs{}
	if err := callConverse(context.Background(), bed("bedrock_converse_6.json,failonce=g-br,tag=g-br", btransport(e, es), 3), "anthropic.claude-3-7-sonnet-20250219-v1:0", false); err != nil {
		t.Fatal(err)
	}
	if served(t, "g-br") != 2 {
		t.Fatal("the SDK retried once")
	}
	if len(es.all) != 0 || fmt.Sprint(byModel(t, e)) != fmt.Sprint(want("bedrock_converse_6.json")) {
		t.Fatalf("got %v errors %v", byModel(t, e), es.all)
	}
}

func TestBedrockConcurrentCalls(t *testing.T) {
	// Converse responses carry no id: each of 32 concurrent calls is keyed by its own request
	// id, so 32 records, exactly 32 times one call's cost.
	one := newEngine(t)
	model := "anthropic.claude-3-7-sonnet-20250219-v1:0"
	if err := callConverse(context.Background(), bed("bedrock_converse_6.json", btransport(one, &errs{}), 1), model, false); err != nil {
		t.Fatal(err)
	}
	single, _ := one.CustomerMargin("cust")
	e, es := newEngine(t), &errs{}
	b := bed("bedrock_converse_6.json", btransport(e, es), 1)
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := tollgate.WithCall(context.Background(), tollgate.Call{CustomerID: "cust", RunID: "run-32"})
			if err := callConverse(ctx, b, model, false); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	m, err := e.CustomerMargin("cust")
	if err != nil {
		t.Fatal(err)
	}
	one32, ok1 := new(big.Rat).SetString(single.CostCents.String())
	got, ok2 := new(big.Rat).SetString(m.CostCents.String())
	if !ok1 || !ok2 || one32.Sign() <= 0 {
		t.Fatalf("costs %s %s", single.CostCents, m.CostCents)
	}
	one32.Mul(one32, big.NewRat(32, 1))
	if m.Events != 32 || got.Cmp(one32) != 0 || len(es.all) != 0 {
		t.Fatalf("events %d cost %s (single %s) errors %v", m.Events, m.CostCents, single.CostCents, es.all)
	}
}
