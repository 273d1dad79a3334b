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
	// Guard asks the engine's Allow before the call is sent (nil: the Transport's
	// Default.Guard; &Guard{Mode: GuardOff} turns a default guard off for this call).
	Guard *Guard
}

// GuardMode says what a Guard does with the engine's decision.
type GuardMode string

// The modes of a Guard.
const (
	// GuardBlock (also the zero value ""): a block decision stops the call before it is
	// sent (the caller gets a *GuardBlocked error); a downgrade decision lets the call go out
	// as asked.
	GuardBlock GuardMode = "block"
	// GuardDowngrade: as GuardBlock, and a downgrade decision sends the call with the
	// decision's SuggestedModel instead of the model asked for.
	GuardDowngrade GuardMode = "downgrade"
	// GuardOff: no check.
	GuardOff GuardMode = "off"
)

// Guard is the pre-call check of a Transport (Call.Guard, Transport.Default.Guard): before
// a provider call is sent the Transport asks Engine.Allow for the call's customer, agent, run
// and model. A block decision never reaches the provider: the SDK returns a *GuardBlocked
// (errors.As) without retrying. If Allow itself fails, the call goes ahead and OnError gets
// the failure (tracking never breaks a call).
//
//	ctx := tollgate.WithCall(ctx, tollgate.Call{CustomerID: "acme",
//		Guard: &tollgate.Guard{Mode: tollgate.GuardDowngrade, Usage: &tollgate.Usage{TokensIn: 2000, TokensOut: 800}}})
//	_, err := client.Chat.Completions.New(ctx, params)
//	var blocked *tollgate.GuardBlocked
//	if errors.As(err, &blocked) { /* blocked.Decision.Reason */ }
type Guard struct {
	// Mode: GuardBlock ("" too), GuardDowngrade or GuardOff.
	Mode GuardMode
	// EstimatedCostCents is the estimate Allow judges the call by, in exact cents; nil =
	// none. Without an estimate a call fits while the budget has anything left, so a
	// downgrade needs one (this or Usage).
	EstimatedCostCents *Cents
	// Usage is the estimate as expected usage, priced by the engine for the requested model
	// and each downgrade candidate; nil = none.
	Usage *Usage
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
// reaches Transport.OnError. Kind is "no_usage", "truncated", "rejected", "engine" or
// "guard" (a downgrade the Transport could not apply; the call went out as asked).
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
	if !ok {
		return base.RoundTrip(req)
	}
	call := t.call(req)
	if g := call.Guard; g != nil && g.Mode != GuardOff {
		var blocked *http.Response
		var err error
		req, model, blocked, err = t.guard(req, provider, model, call)
		if blocked != nil || err != nil {
			return blocked, err
		}
	}
	resp, err := base.RoundTrip(req)
	if err != nil || resp.StatusCode < 200 || resp.StatusCode > 299 || resp.Body == nil {
		return resp, err
	}
	if call.CustomerID == "" {
		t.fail(&TrackingError{Kind: "engine", Provider: provider, Model: model, Err: errors.New("no customer: set Transport.Default or tollgate.WithCall")})
		return resp, nil
	}
	ctype := header(resp.Header, "Content-Type")
	streamed := false
	for _, s := range streamTypes {
		if strings.HasPrefix(ctype, s) {
			streamed = true
			break
		}
	}
	rid := header(resp.Header, "X-Request-Id")
	if rid == "" {
		rid = header(resp.Header, "Request-Id")
	}
	if rid == "" {
		rid = header(resp.Header, "X-Amzn-Requestid")
	}
	if strings.HasPrefix(model, "anthropic.") || strings.Contains(model, ".anthropic.") {
		if strings.Contains(req.URL.Path, "/invoke") {
			provider = "anthropic"
		}
	}
	tap := &tapBody{t: t, body: resp.Body, provider: provider, model: model, requestID: rid, call: call, req: req, scratch: getScratch()}
	if !streamed && resp.ContentLength > 0 && resp.ContentLength <= keepMax && cap(tap.scratch.body) < int(resp.ContentLength) {
		tap.scratch.body = make([]byte, 0, resp.ContentLength)
	}
	if streamed {
		s, err := NewStream(provider, model)
		if err != nil {
			putScratch(tap.scratch)
			t.fail(&TrackingError{Kind: "engine", Provider: provider, Model: model, Err: err})
			return resp, nil
		}
		tap.stream = s
	}
	resp.Body = tap
	return resp, nil
}

// header is h.Get(key) for a key already in canonical form (as every key of a response's
// Header is): the map read without Get's canonicalization of the key on every call.
func header(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// call is the request's Call (WithCall) over the Transport's Default.
func (t *Transport) call(req *http.Request) Call {
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
		if c.Guard != nil {
			call.Guard = c.Guard
		}
	}
	return call
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
	seen      int
	once      sync.Once
	// mu guards scratch: the buffers of a JSON body until it ends, or of a stream's
	// pending batch (fed to the engine once per streamBatch bytes); nil once booked.
	mu       sync.Mutex
	scratch  *trackScratch
	tooLarge bool // a JSON body longer than the engine takes (its bytes were dropped)
}

func (b *tapBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if n > 0 {
		b.mu.Lock()
		b.seen += n
		if s := b.scratch; s != nil {
			switch {
			case b.stream == nil && !b.tooLarge && len(s.body)+n <= maxBody:
				s.body = append(s.body, p[:n]...)
			case b.stream == nil:
				b.tooLarge, s.body = true, s.body[:0]
			case len(s.body)+n <= streamBatch:
				s.body = append(s.body, p[:n]...)
			default:
				b.feed(s)
				if n >= streamBatch {
					_ = b.stream.Feed(p[:n]) // a failed feed makes the tracking fail with the same error
				} else {
					s.body = append(s.body, p[:n]...)
				}
			}
		}
		b.mu.Unlock()
	}
	if err == io.EOF {
		b.finish(true, "")
	} else if err != nil {
		b.finish(false, "the connection broke: "+err.Error())
	}
	return n, err
}

// maxBody is the longest JSON body the engine reads (C TG_MAX_BODY_BYTES).
const maxBody = 64 << 20

// feed hands a stream's pending batch to the engine (b.mu held).
func (b *tapBody) feed(s *trackScratch) {
	if len(s.body) > 0 {
		_ = b.stream.Feed(s.body) // a failed feed makes the tracking fail with the same error
		s.body = s.body[:0]
	}
}

func (b *tapBody) Close() error {
	err := b.body.Close()
	b.finish(false, "the caller closed the response early")
	return err
}

// context writes the tracking context JSON into s.ctx.
func (b *tapBody) context(s *trackScratch) {
	c := append(s.ctx[:0], '{')
	c = appendMember(c, "customerId", b.call.CustomerID)
	if b.call.AgentID != "" {
		c = appendMember(c, "agentId", b.call.AgentID)
	}
	if b.call.RunID != "" {
		c = appendMember(c, "runId", b.call.RunID)
	}
	if b.call.RevenueUnitCents != "" {
		c = appendMember(c, "revenueUnitCents", b.call.RevenueUnitCents)
	}
	if b.provider == "bedrock" && b.requestID != "" {
		c = appendMember(c, "idempotencyKey", "req:"+b.requestID)
	}
	s.ctx = append(c, '}')
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
		ok := false
		var err error
		b.mu.Lock()
		s := b.scratch
		b.scratch = nil
		if s != nil {
			b.context(s)
			switch {
			case b.stream != nil:
				b.feed(s)
				results, ok, err = t.Engine.trackStream(s, b.stream)
				b.stream.Close()
			case b.tooLarge:
				err = &Error{Status: ErrLimit, Message: fmt.Sprintf("the response body is longer than %d bytes", maxBody)}
			case complete:
				results, ok, err = t.Engine.trackBody(s, b.provider, b.model, s.body)
			default:
				err = &Error{Status: ErrInvalidInput, Message: "truncated: " + reason}
			}
			putScratch(s)
		}
		b.mu.Unlock()
		defer func() { b.req = nil }()
		if s == nil || ok {
			return
		}
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
