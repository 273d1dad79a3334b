package tollgate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// guard asks Allow for a matched provider request before it is sent. It returns the request
// to send (the same one, or a copy carrying the suggested model of a downgrade) and the model
// the tap then knows (changed only where the model is in the path), or the Transport's own
// answer to a blocked call (the request is then not sent), or the error of a Guard that is
// not valid.
func (t *Transport) guard(req *http.Request, provider, model string, call Call) (*http.Request, string, *http.Response, error) {
	g := call.Guard
	switch g.Mode {
	case "", GuardBlock, GuardDowngrade:
	default:
		closeBody(req)
		return req, model, nil, fmt.Errorf("tollgate: Guard.Mode %q is not %q, %q or %q", g.Mode, GuardBlock, GuardDowngrade, GuardOff)
	}
	asked := model
	var body []byte
	if asked == "" { // openai, openai_compatible, anthropic: the model is in the JSON body
		var err error
		if body, req, err = requestBody(req); err != nil {
			t.fail(&TrackingError{Kind: "engine", Provider: provider, Err: fmt.Errorf("guard: reading the request body failed, the call goes ahead: %w", err)})
			return req, model, nil, nil
		}
		var v struct {
			Model string `json:"model"`
		}
		_ = json.Unmarshal(body, &v) // a body without a model is judged without one
		asked = v.Model
	}
	d, err := t.Engine.Allow(AllowRequest{
		CustomerID: call.CustomerID, AgentID: call.AgentID, RunID: call.RunID, Model: asked,
		Provider: provider, EstimatedCostCents: g.EstimatedCostCents, Usage: g.Usage,
	})
	if err != nil {
		t.fail(&TrackingError{Kind: "engine", Provider: provider, Model: asked, Err: fmt.Errorf("guard: allow failed, the call goes ahead: %w", err)})
		return req, model, nil, nil
	}
	switch {
	case d.Decision == VerdictBlock:
		closeBody(req)
		return req, model, blockedResponse(req, d), nil
	case d.Decision == VerdictDowngrade && g.Mode == GuardDowngrade && d.SuggestedModel != "" && d.SuggestedModel != asked:
		swapped, err := swapModel(req, provider, body, asked, d.SuggestedModel)
		if err != nil {
			t.fail(&TrackingError{Kind: "guard", Provider: provider, Model: asked, Err: fmt.Errorf("the downgrade to %s was not applied, the call goes out as asked: %w", d.SuggestedModel, err)})
			return req, model, nil, nil
		}
		if model != "" {
			model = d.SuggestedModel
		}
		return swapped, model, nil, nil
	}
	return req, model, nil, nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// requestBody reads the request's body: through GetBody when the request has one (the SDKs'
// requests do; req.Body stays unread), else from req.Body, in which case the request
// returned is a copy carrying the bytes read.
func requestBody(req *http.Request) ([]byte, *http.Request, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, req, nil
	}
	if req.GetBody != nil {
		rc, err := req.GetBody()
		if err != nil {
			return nil, req, err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		return b, req, err
	}
	b, err := io.ReadAll(req.Body)
	_ = req.Body.Close()
	if err != nil {
		return nil, req, err
	}
	return b, withBody(req, b), nil
}

// withBody is a copy of req sending body.
func withBody(req *http.Request, body []byte) *http.Request {
	r := req.Clone(req.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	r.ContentLength = int64(len(body))
	return r
}

// swapModel is a copy of req asking for model `to` instead of `from`: in the JSON body
// (OpenAI, Anthropic; the body is written again, its members in sorted order) or in the path
// (Gemini). A Bedrock request is signed (SigV4) before it reaches the transport, so its
// model cannot be changed here.
func swapModel(req *http.Request, provider string, body []byte, from, to string) (*http.Request, error) {
	switch provider {
	case "openai", "openai_compatible", "anthropic":
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, fmt.Errorf("the request body is not a JSON object: %w", err)
		}
		name, _ := json.Marshal(to)
		m["model"] = name
		out, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		if req.Body != nil && req.GetBody != nil {
			// The original body was not read (requestBody used GetBody): close it now.
			_ = req.Body.Close()
		}
		return withBody(req, out), nil
	case "gemini":
		old := "/models/" + from + ":"
		i := strings.LastIndex(req.URL.Path, old)
		if i < 0 {
			return nil, fmt.Errorf("the path %q does not name the model %s", req.URL.Path, from)
		}
		r := req.Clone(req.Context())
		r.URL.Path = req.URL.Path[:i] + "/models/" + to + ":" + req.URL.Path[i+len(old):]
		r.URL.RawPath = ""
		return r, nil
	default:
		return nil, fmt.Errorf("a %s request is signed before it reaches the transport (ask Engine.Allow before building the request to change its model)", provider)
	}
}

// blockedResponse is the Transport's own answer to a blocked call: HTTP 403 with
// X-Should-Retry: false (no SDK retries it) and a body whose first read fails with
// *GuardBlocked, which every SDK returns to the caller as the call's error (errors.As).
func blockedResponse(req *http.Request, d *Decision) *http.Response {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-Should-Retry", "false")
	h.Set("Tollgate-Guard", string(d.Decision)+"; reason="+d.Reason)
	return &http.Response{
		StatusCode: http.StatusForbidden, Status: "403 Forbidden", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: blockedBody{&GuardBlocked{Decision: d}}, ContentLength: -1, Request: req,
	}
}

type blockedBody struct{ err *GuardBlocked }

func (b blockedBody) Read([]byte) (int, error) { return 0, b.err }
func (b blockedBody) Close() error             { return nil }
