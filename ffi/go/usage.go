package tollgate

/*
#include "tollgate.h"
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
)

// LineItem is the usage of one billable unit of a provider response (the shape of
// `tollgate usage`). ReasoningTokens is nil when the provider gave no breakdown.
type LineItem struct {
	Provider           string  `json:"provider"`
	Model              string  `json:"model"`
	TokensIn           uint64  `json:"tokensIn"`
	CachedTokens       uint64  `json:"cachedTokens"`
	CacheWrite5mTokens uint64  `json:"cacheWrite5mTokens"`
	CacheWrite1hTokens uint64  `json:"cacheWrite1hTokens"`
	TokensOut          uint64  `json:"tokensOut"`
	ReasoningTokens    *uint64 `json:"reasoningTokens"`
	AudioTokensIn      uint64  `json:"audioTokensIn"`
	AudioTokensOut     uint64  `json:"audioTokensOut"`
	ImageTokensIn      uint64  `json:"imageTokensIn"`
	ImageTokensOut     uint64  `json:"imageTokensOut"`
	WebSearchRequests  uint64  `json:"webSearchRequests"`
	ToolCalls          uint64  `json:"toolCalls"`
	ServiceTier        *string `json:"serviceTier"`
	ResponseID         *string `json:"responseId"`
	ReportedCostCents  *string `json:"reportedCostCents,omitempty"`
	InferenceGeo       *string `json:"inferenceGeo,omitempty"`
	Speed              *string `json:"speed,omitempty"`
	// Raw is the line item's JSON as the engine wrote it (a valid event record).
	Raw json.RawMessage `json:"-"`
}

func decodeLineItems(out []byte) ([]LineItem, error) {
	var r struct {
		LineItems []json.RawMessage `json:"lineItems"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("tollgate: decoding line items: %w", err)
	}
	items := make([]LineItem, len(r.LineItems))
	for i, raw := range r.LineItems {
		if err := json.Unmarshal(raw, &items[i]); err != nil {
			return nil, fmt.Errorf("tollgate: decoding line item: %w", err)
		}
		items[i].Raw = raw
	}
	return items, nil
}

// ExtractUsage reads the usage off one raw provider response (JSON body, SSE text, JSON Lines
// or AWS event-stream bytes). provider is openai, anthropic, bedrock, gemini or
// openai_compatible; model is the requested model ("" if none; required for Bedrock
// Converse). A response without usage fails with ErrNoUsage: never zero tokens.
func ExtractUsage(provider string, body []byte, model string) ([]LineItem, error) {
	p, m := []byte(provider), []byte(model)
	out, err := callBuffered(1024, func(o *C.uint8_t, cap C.size_t, n *C.size_t, cerr *C.tg_error) C.int32_t {
		pp, pn := bytesPtr(p)
		mp, mn := bytesPtr(m)
		bp, bn := bytesPtr(body)
		return C.tg_usage_extract(pp, pn, mp, mn, bp, bn, o, cap, n, cerr)
	})
	if err != nil {
		return nil, err
	}
	return decodeLineItems(out)
}

// Stream reads usage off a streamed response: Feed chunks as they arrive (split anywhere),
// then Finish. Memory stays bounded; no content is kept. One goroutine at a time.
type Stream struct {
	mu sync.Mutex
	p  *C.tg_stream
	// cerr is the error out-parameter of every call (guarded by mu): a local passed to C
	// would be moved to the heap, one allocation per Feed. Neither field holds a Go
	// pointer, so passing their addresses to C is allowed by the cgo rules.
	cerr C.tg_error
}

// NewStream starts a stream reader (see ExtractUsage for provider and model).
func NewStream(provider, model string) (*Stream, error) {
	pp, pn := strPtr(provider)
	mp, mn := strPtr(model)
	out := &Stream{}
	if st := C.tg_stream_new(pp, pn, mp, mn, &out.p, &out.cerr); st != C.TG_OK {
		return nil, newError(st, &out.cerr)
	}
	runtime.SetFinalizer(out, (*Stream).Close)
	return out, nil
}

// Feed feeds the next chunk. After an error every later call returns it again.
func (s *Stream) Feed(chunk []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil {
		return &Error{Status: ErrInvalidHandle, Message: "stream is closed"}
	}
	cp, cn := bytesPtr(chunk)
	if st := C.tg_stream_feed(s.p, cp, cn, &s.cerr); st != C.TG_OK {
		return newError(st, &s.cerr)
	}
	return nil
}

// Finish returns the line items (computed once; calling again returns them again).
func (s *Stream) Finish() ([]LineItem, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil {
		return nil, &Error{Status: ErrInvalidHandle, Message: "stream is closed"}
	}
	out, err := callBuffered(1024, func(o *C.uint8_t, cap C.size_t, n *C.size_t, cerr *C.tg_error) C.int32_t {
		return C.tg_stream_finish(s.p, o, cap, n, cerr)
	})
	if err != nil {
		return nil, err
	}
	return decodeLineItems(out)
}

// Close frees the stream (io.Closer); twice is a no-op.
func (s *Stream) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	C.tg_stream_free(s.p)
	s.p = nil
	return nil
}
