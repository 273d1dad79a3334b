package tollgate

/*
#include "tollgate.h"
*/
import "C"

import (
	"bytes"
	"sync"
	"unicode/utf8"
	"unsafe"
)

// The Transport's tracking path: one cgo call per response (tg_track_response, or
// tg_stream_track after the last batch), every buffer it needs taken from a pool, and the
// answer read without encoding/json when every line item was accepted or a duplicate (the
// usual case; anything else is decoded in full for OnError).

// streamBatch is how many stream bytes the Transport gathers before one tg_stream_feed.
const streamBatch = 16 << 10

// keepMax: a scratch whose body buffer grew past this is not kept for reuse.
const keepMax = 1 << 20

// trackScratch is one in-flight response's buffers. The fields passed to C hold no Go
// pointers (cgo rules: a pointer to a field is checked against the field only).
type trackScratch struct {
	n    C.size_t
	cerr C.tg_error
	out  [16 + RecordOutMax]byte
	ctx  []byte // the context JSON
	body []byte // a JSON body until it ends; a stream's pending batch
}

var scratchPool = sync.Pool{New: func() any { return &trackScratch{ctx: make([]byte, 0, 256)} }}

func getScratch() *trackScratch { return scratchPool.Get().(*trackScratch) }

func putScratch(s *trackScratch) {
	if cap(s.body) > keepMax {
		s.body = nil
	}
	s.body = s.body[:0]
	s.ctx = s.ctx[:0]
	scratchPool.Put(s)
}

func strPtr(s string) (*C.uint8_t, C.size_t) {
	if len(s) == 0 {
		return nil, 0
	}
	return (*C.uint8_t)(unsafe.Pointer(unsafe.StringData(s))), C.size_t(len(s))
}

// trackFn is tg_track_response or tg_stream_track with its inputs bound.
type trackFn func(p *C.tg_engine, out *C.uint8_t, cap C.size_t, n *C.size_t, cerr *C.tg_error) C.int32_t

// track runs fn with the scratch's output buffer (a bigger one when the response has more
// line items than it holds). ok: every result was accepted or a duplicate; otherwise results
// are the decoded answer.
func (e *Engine) track(s *trackScratch, fn trackFn) (results []IngestResult, ok bool, err error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.p == nil {
		return nil, false, &Error{Status: ErrInvalidHandle, Message: "engine is closed"}
	}
	out := s.out[:]
	st := fn(e.p, (*C.uint8_t)(unsafe.Pointer(&out[0])), C.size_t(len(out)), &s.n, &s.cerr)
	switch st {
	case C.TG_OK:
		out = out[:s.n]
	case C.TG_ERR_BUFFER_TOO_SMALL: // several line items: the length it needs
		if out, err = callBuffered(int(s.n), func(o *C.uint8_t, cap C.size_t, n *C.size_t, cerr *C.tg_error) C.int32_t {
			return fn(e.p, o, cap, n, cerr)
		}); err != nil {
			return nil, false, err
		}
	default:
		return nil, false, newError(st, &s.cerr)
	}
	if allAccepted(out) {
		return nil, true, nil
	}
	results, err = decodeResults(out)
	return results, false, err
}

// allAccepted: out, a {"results":[…]} answer, has at least one result and every "status"
// is "accepted" or "duplicate". The byte sequence "status":" can only be a key followed by
// a string (a quote inside a JSON string is escaped). Its colon is what is searched for:
// colons are rarer in the answer than quotes, so this takes a few steps per result where
// bytes.Index of the whole key stops at every quote.
func allAccepted(out []byte) bool {
	const key = `"status"`
	seen := false
	for i := 0; ; i++ {
		j := bytes.IndexByte(out[i:], ':')
		if j < 0 {
			return seen
		}
		i += j
		if i < len(key) || string(out[i-len(key):i]) != key || i+1 >= len(out) || out[i+1] != '"' {
			continue
		}
		switch rest := out[i+2:]; {
		case bytes.HasPrefix(rest, []byte(`accepted"`)), bytes.HasPrefix(rest, []byte(`duplicate"`)):
			seen = true
		default:
			return false
		}
	}
}

// trackBody books a whole JSON response (tg_track_response) with the context in s.ctx.
func (e *Engine) trackBody(s *trackScratch, provider, model string, body []byte) ([]IngestResult, bool, error) {
	pp, pn := strPtr(provider)
	mp, mn := strPtr(model)
	bp, bn := bytesPtr(body)
	cp, cn := bytesPtr(s.ctx)
	return e.track(s, func(p *C.tg_engine, o *C.uint8_t, cap C.size_t, n *C.size_t, cerr *C.tg_error) C.int32_t {
		return C.tg_track_response(p, pp, pn, mp, mn, bp, bn, cp, cn, o, cap, n, cerr)
	})
}

// trackStream books a stream (tg_stream_track) with the context in s.ctx.
func (e *Engine) trackStream(s *trackScratch, st *Stream) ([]IngestResult, bool, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.p == nil {
		return nil, false, &Error{Status: ErrInvalidHandle, Message: "stream is closed"}
	}
	cp, cn := bytesPtr(s.ctx)
	sp := st.p
	return e.track(s, func(p *C.tg_engine, o *C.uint8_t, cap C.size_t, n *C.size_t, cerr *C.tg_error) C.int32_t {
		return C.tg_stream_track(p, sp, cp, cn, o, cap, n, cerr)
	})
}

// appendJSONString appends s as a JSON string (as encoding/json writes it, invalid UTF-8
// replaced by U+FFFD; HTML characters are not escaped, which JSON does not need).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func appendMember(b []byte, key, value string) []byte {
	if len(b) > 1 {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return appendJSONString(b, value)
}
