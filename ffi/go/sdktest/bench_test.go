package sdktest

// Tracking overhead of tollgate.Transport under openai-go: the same call unwrapped and
// wrapped, served from memory by a RoundTripper that replays a recording (the replay
// server's answer without the socket, whose own cost would drown a few microseconds), so the
// difference between the two is what tracking costs. Run:
//
//	go test -run '^$' -bench . -benchtime 2000x ./...
//
// Figures: README.md ("SDK wrappers: overhead").

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	tollgate "github.com/tollgate-engine/tollgate-engine/ffi/go"
)

// memReplay answers every request with one recording: a JSON body, or an SSE stream handed
// out one event per Read (as a provider flushes it).
type memReplay struct {
	ctype  string
	pieces [][]byte
	n      int
}

type pieceReader struct {
	pieces [][]byte
	cur    []byte
}

func (r *pieceReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if len(r.pieces) == 0 {
			return 0, io.EOF
		}
		r.cur, r.pieces = r.pieces[0], r.pieces[1:]
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

func (m *memReplay) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	m.n++
	h := http.Header{}
	h.Set("Content-Type", m.ctype)
	h.Set("X-Request-Id", "req_bench_"+strconv.Itoa(m.n))
	return &http.Response{StatusCode: 200, Status: "200 OK", Header: h, Body: io.NopCloser(&pieceReader{pieces: m.pieces}), Request: req, ContentLength: -1}, nil
}

// sseEvents: the recording's SSE events, the middle ones repeated `repeat` times (the replay
// server's repeat=N).
func sseEvents(b *testing.B, file string, repeat int) [][]byte {
	data, err := os.ReadFile(filepath.Join(fixtures, file))
	if err != nil {
		b.Skip(err)
	}
	var ev [][]byte
	for _, p := range bytes.Split(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n")), []byte("\n\n")) {
		if len(bytes.TrimSpace(p)) > 0 {
			ev = append(ev, append(p, '\n', '\n'))
		}
	}
	out := [][]byte{ev[0]}
	for i := 0; i < repeat; i++ {
		out = append(out, ev[1:len(ev)-1]...)
	}
	return append(out, ev[len(ev)-1])
}

func benchClient(b *testing.B, rt http.RoundTripper, wrapped bool) openai.Client {
	if wrapped {
		e, err := tollgate.NewEngine(nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { e.Close() })
		rt = &tollgate.Transport{Base: rt, Engine: e, Provider: "openai", Default: tollgate.Call{CustomerID: "cust"}, OnError: func(err error) { b.Error(err) }}
	}
	return openai.NewClient(option.WithAPIKey("sk-test"), option.WithBaseURL("http://127.0.0.1:1/v1/"), option.WithHTTPClient(&http.Client{Transport: rt}), option.WithMaxRetries(0))
}

// BenchmarkChatCall: one non-stream Chat Completions call (openai_chat_1.json).
func BenchmarkChatCall(b *testing.B) {
	body, err := os.ReadFile(filepath.Join(fixtures, "openai_chat_1.json"))
	if err != nil {
		b.Skip(err)
	}
	for _, wrapped := range []bool{false, true} {
		b.Run(map[bool]string{false: "unwrapped", true: "wrapped"}[wrapped], func(b *testing.B) {
			c := benchClient(b, &memReplay{ctype: "application/json", pieces: [][]byte{body}}, wrapped)
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := c.Chat.Completions.New(ctx, chatParams); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkChatStreamChunk: a streamed Chat Completions call of openai_chat_stream_1.sse with
// its content events repeated 50 times; ns/chunk is the time per SSE event.
func BenchmarkChatStreamChunk(b *testing.B) {
	events := sseEvents(b, "openai_chat_stream_1.sse", 50)
	for _, wrapped := range []bool{false, true} {
		b.Run(map[bool]string{false: "unwrapped", true: "wrapped"}[wrapped], func(b *testing.B) {
			c := benchClient(b, &memReplay{ctype: "text/event-stream", pieces: events}, wrapped)
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				s := c.Chat.Completions.NewStreaming(ctx, chatParams)
				for s.Next() {
				}
				if err := s.Err(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(events)), "ns/chunk")
		})
	}
}
