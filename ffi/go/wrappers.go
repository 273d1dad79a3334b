package tollgate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// Call says whom a provider call is for. Attach it to the request's context with WithCall;
// the Transport's Default fills the fields a call leaves empty.
type Call struct {
	CustomerID       string
	AgentID          string
	RunID            string
	RevenueUnitCents string // exact decimal cents, e.g. "0.5"
}

type callKey struct{}

// WithCall returns a context carrying c for the provider calls made with it:
//
//	ctx := tollgate.WithCall(ctx, tollgate.Call{CustomerID: "cust_A", RunID: "ticket-9"})
//	client.Chat.Completions.New(ctx, params)
func WithCall(ctx context.Context, c Call) context.Context {
	return context.WithValue(ctx, callKey{}, c)
}

// TrackingError is a failed tracking or a warning: the call itself was not affected; it only
// reaches Transport.OnError. Kind is "no_usage", "truncated", "rejected" or "engine".
//
// Kind "truncated": the response ended before the provider reported its usage (the caller
// closed it early, the connection broke). The call is booked in the ledger as an explicit
// truncated event (Event; unpriced, its cost unknown, never a zero-token call) and this
// warning says so; Result is the ledger's answer, nil when booking failed (Err says why).
type TrackingError struct {
	Kind     string
	Provider string
	Model    string
	Err      error
	// Record describes a truncated response: type, provider, model, customerId, runId,
	// agentId, requestId, bytesSeen, reason.
	Record map[string]any
	// Event is the truncated event booked: type "truncated", customerId, agentId, runId,
	// revenueUnitCents, provider, model, idempotencyKey.
	Event map[string]string
	// Result is the ledger's answer to Event.
	Result *IngestResult
}

func (e *TrackingError) Error() string {
	if e.Kind == "truncated" {
		booked := "booked as a truncated event"
		if e.Err != nil {
			booked = fmt.Sprintf("booking the truncated event failed: %v", e.Err)
		}
		return fmt.Sprintf("tollgate: truncated: the response ended before its usage (%v); %s: %v", e.Record["reason"], booked, e.Record)
	}
	if e.Err != nil {
		return fmt.Sprintf("tollgate: %s: %v", e.Kind, e.Err)
	}
	return fmt.Sprintf("tollgate: %s: %v", e.Kind, e.Record)
}

func (e *TrackingError) Unwrap() error { return e.Err }

// Transport is an http.RoundTripper that tracks every provider response it carries: give it
// to the SDK's HTTP client (option.WithHTTPClient for openai-go and anthropic-sdk-go,
// genai.ClientConfig.HTTPClient, the AWS config's HTTPClient). The usage is read from the
// raw body, SSE stream or AWS event stream by the engine's extractors as the SDK reads it;
// the SDK gets the same bytes. Non-2xx responses are not tracked (so SDK retries are not
// double counted); a response is keyed by its provider id (Bedrock Converse: its
// x-amzn-RequestId). Safe for concurrent use.
type Transport struct {
	// Base carries the requests (nil: http.DefaultTransport).
	Base http.RoundTripper
	// Engine books the responses.
	Engine *Engine
	// Provider: "openai", "openai_compatible", "anthropic", "bedrock" or "gemini".
	Provider string
	// Default is used for the fields a request's Call (WithCall) leaves empty.
	Default Call
	// OnError receives every tracking failure (nil: dropped). Never the caller.
	OnError func(error)
}

var streamTypes = []string{"text/event-stream", "application/vnd.amazon.eventstream", "application/x-ndjson"}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	provider, model, ok := t.match(req)
	resp, err := base.RoundTrip(req)
	if err != nil || !ok || resp.StatusCode < 200 || resp.StatusCode > 299 || resp.Body == nil {
		return resp, err
	}
	call := t.Default
	if c, found := req.Context().Value(callKey{}).(Call); found {
		if c.CustomerID != "" {
			call.CustomerID = c.CustomerID
		}
		if c.AgentID != "" {
			call.AgentID = c.AgentID
		}
		if c.RunID != "" {
			call.RunID = c.RunID
		}
		if c.RevenueUnitCents != "" {
			call.RevenueUnitCents = c.RevenueUnitCents
		}
	}
	if call.CustomerID == "" {
		t.fail(&TrackingError{Kind: "engine", Provider: provider, Model: model, Err: errors.New("no customer: set Transport.Default or tollgate.WithCall")})
		return resp, nil
	}
	ctype := resp.Header.Get("Content-Type")
	streamed := false
	for _, s := range streamTypes {
		if strings.HasPrefix(ctype, s) {
			streamed = true
		}
	}
	rid := resp.Header.Get("X-Request-Id")
	if rid == "" {
		rid = resp.Header.Get("Request-Id")
	}
	if rid == "" {
		rid = resp.Header.Get("X-Amzn-Requestid")
	}
	if strings.HasPrefix(model, "anthropic.") || strings.Contains(model, ".anthropic.") {
		if strings.Contains(req.URL.Path, "/invoke") {
			provider = "anthropic"
		}
	}
	tap := &tapBody{t: t, body: resp.Body, provider: provider, model: model, requestID: rid, call: call, req: req}
	if streamed {
		s, err := NewStream(provider, model)
		if err != nil {
			t.fail(&TrackingError{Kind: "engine", Provider: provider, Model: model, Err: err})
			return resp, nil
		}
		tap.stream = s
	}
	resp.Body = tap
	return resp, nil
}

func (t *Transport) fail(err error) {
	if t.OnError != nil {
		t.OnError(err)
	}
}

func (t *Transport) match(req *http.Request) (provider, model string, ok bool) {
	if req.Method != http.MethodPost {
		return "", "", false
	}
	p := strings.TrimRight(req.URL.Path, "/")
	switch t.Provider {
	case "openai", "openai_compatible":
		ok = strings.HasSuffix(p, "/chat/completions") || strings.HasSuffix(p, "/responses") || strings.HasSuffix(p, "/completions")
	case "anthropic":
		ok = strings.HasSuffix(p, "/messages")
	case "gemini":
		if strings.Contains(p, ":generateContent") || strings.Contains(p, ":streamGenerateContent") {
			ok = true
			i := strings.LastIndex(p, "/models/")
			if i >= 0 {
				model, _ = url.PathUnescape(strings.SplitN(p[i+len("/models/"):], ":", 2)[0])
			}
		}
	case "bedrock":
		raw := req.URL.EscapedPath()
		if i := strings.Index(raw, "/model/"); i >= 0 {
			rest := raw[i+len("/model/"):]
			j := strings.LastIndex(rest, "/")
			if j > 0 {
				op := rest[j+1:]
				ok = op == "converse" || op == "converse-stream" || op == "invoke" || op == "invoke-with-response-stream"
				model, _ = url.PathUnescape(rest[:j])
			}
		}
	}
	return t.Provider, model, ok
}

// tapBody feeds the engine as the SDK reads the body and books the response once, when it
// ends (EOF), breaks (a read error) or is closed early.
type tapBody struct {
	t         *Transport
	body      io.ReadCloser
	provider  string
	model     string
	requestID string
	call      Call
	req       *http.Request // read again only if the response is cut (for the model it named)
	stream    *Stream       // streams: the engine's bounded accumulator
	parts     []byte        // non-stream bodies, until read
	seen      int
	once      sync.Once
}

func (b *tapBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if n > 0 {
		b.seen += n
		if b.stream != nil {
			_ = b.stream.Feed(p[:n]) // a failed feed makes Finish fail with the same error
		} else {
			b.parts = append(b.parts, p[:n]...)
		}
	}
	if err == io.EOF {
		b.finish(true, "")
	} else if err != nil {
		b.finish(false, "the connection broke: "+err.Error())
	}
	return n, err
}

func (b *tapBody) Close() error {
	err := b.body.Close()
	b.finish(false, "the caller closed the response early")
	return err
}

func (b *tapBody) context() []byte {
	ctx := map[string]string{"customerId": b.call.CustomerID}
	if b.call.AgentID != "" {
		ctx["agentId"] = b.call.AgentID
	}
	if b.call.RunID != "" {
		ctx["runId"] = b.call.RunID
	}
	if b.call.RevenueUnitCents != "" {
		ctx["revenueUnitCents"] = b.call.RevenueUnitCents
	}
	if b.provider == "bedrock" && b.requestID != "" {
		ctx["idempotencyKey"] = "req:" + b.requestID
	}
	out, _ := json.Marshal(ctx)
	return out
}

// truncated books the explicit truncated event of a response cut before its usage and
// reports it to OnError.
func (b *tapBody) truncated(reason string) {
	model := b.callModel()
	rec := map[string]any{
		"type": "truncated", "provider": b.provider, "model": model, "requestId": b.requestID,
		"bytesSeen": b.seen, "reason": reason, "customerId": b.call.CustomerID,
	}
	ev := map[string]string{"type": "truncated", "customerId": b.call.CustomerID, "provider": b.provider}
	if b.call.RunID != "" {
		rec["runId"] = b.call.RunID
		ev["runId"] = b.call.RunID
	}
	if b.call.AgentID != "" {
		rec["agentId"] = b.call.AgentID
		ev["agentId"] = b.call.AgentID
	}
	if b.call.RevenueUnitCents != "" {
		ev["revenueUnitCents"] = b.call.RevenueUnitCents
	}
	if model != "" {
		ev["model"] = model
	}
	if b.requestID != "" {
		ev["idempotencyKey"] = "req:" + b.requestID
	} else {
		ev["idempotencyKey"] = "tg:" + randomKey()
	}
	te := &TrackingError{Kind: "truncated", Provider: b.provider, Model: model, Record: rec, Event: ev}
	line, err := json.Marshal(ev)
	if err == nil {
		te.Result, err = b.t.Engine.TrackJSON(line)
	}
	te.Err = err
	b.t.fail(te)
}

// callModel: the model the tap knew, else the request body's "model" (read again through
// GetBody, at most 1 MiB).
func (b *tapBody) callModel() string {
	if b.model != "" || b.req == nil || b.req.GetBody == nil {
		return b.model
	}
	body, err := b.req.GetBody()
	if err != nil {
		return ""
	}
	defer body.Close()
	var v struct {
		Model string `json:"model"`
	}
	if json.NewDecoder(io.LimitReader(body, 1<<20)).Decode(&v) != nil {
		return ""
	}
	return v.Model
}

func randomKey() string {
	var k [16]byte
	_, _ = rand.Read(k[:])
	return hex.EncodeToString(k[:])
}

func (b *tapBody) finish(complete bool, reason string) {
	b.once.Do(func() {
		t := b.t
		var results []IngestResult
		var err error
		if b.stream != nil {
			defer b.stream.Close()
			results, err = t.Engine.TrackStream(b.stream, b.context())
		} else if complete {
			results, err = t.Engine.TrackResponse(b.provider, b.parts, b.context(), b.model)
		} else {
			err = &Error{Status: ErrInvalidInput, Message: "truncated: " + reason}
		}
		b.parts = nil
		defer func() { b.req = nil }()
		if err != nil {
			var te *Error
			isErr := errors.As(err, &te)
			truncated := !complete && isErr && (te.Status == ErrInvalidInput || te.Status == ErrNoUsage)
			if !truncated && isErr && te.Status == ErrInvalidInput && strings.Contains(te.Message, "truncated") {
				truncated = true
			}
			switch {
			case truncated:
				if reason == "" {
					reason = te.Message
				}
				b.truncated(reason)
			case isErr && te.Status == ErrNoUsage:
				t.fail(&TrackingError{Kind: "no_usage", Provider: b.provider, Model: b.model, Err: err})
			default:
				t.fail(&TrackingError{Kind: "engine", Provider: b.provider, Model: b.model, Err: err})
			}
			return
		}
		for _, r := range results {
			if r.Status != "accepted" && r.Status != "duplicate" {
				t.fail(&TrackingError{Kind: "rejected", Provider: b.provider, Model: b.model, Err: fmt.Errorf("%s: %s", r.Status, r.Reason)})
			}
		}
	})
}
