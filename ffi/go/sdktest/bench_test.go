package sdktest

// Tracking overhead of tollgate.Transport: the same call unwrapped and wrapped, served from
// memory by a RoundTripper that replays a recording (the replay server's answer without the
// socket, whose own cost would drown a few microseconds), so the difference between the two
// is what tracking costs. BenchmarkTransport* call the RoundTripper directly and read the
// body as an SDK does (the transport's own overhead, isolated); BenchmarkChat* go through
// openai-go end to end (whose own ~100-300 µs per call is noise around a few µs). Besides
// wall time (ns/op, inflated on a loaded machine) each reports cpu-ns/op, the process's CPU
// time per operation (getrusage; all threads, garbage collection included). The overhead
// sub-benchmarks (BenchmarkTransportCall/overhead, BenchmarkTransportStreamChunk/overhead,
// BenchmarkChatCall/overhead) time unwrapped and wrapped calls interleaved, one at a time,
// and report the difference of their medians (overhead-ns/op, overhead-ns/chunk): the figure
// that stays put on a loaded machine (measurePairs). Run:
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
	"slices"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	tollgate "github.com/tollgate-engine/tollgate-engine/ffi/go"
)

// memReplay answers every request with one recording: a JSON body, or an SSE stream handed
// out one event per Read (as a provider flushes it). Each answer carries its own provider
// response id (the recording's "id" with its last 8 characters replaced by a process-wide
// sequence number), so every wrapped call books a new record, as a real provider's answers
// do, instead of being the engine's duplicate of the first one.
type memReplay struct {
	ctype  string
	pieces [][]byte
	ids    [][]byte // the last 8 bytes of each "id" value in pieces, rewritten per answer
	n      int
}

// responseSeq numbers the answers of every memReplay of the process.
var responseSeq atomic.Uint64

func newMemReplay(ctype string, pieces [][]byte) *memReplay {
	m := &memReplay{ctype: ctype, pieces: pieces}
	seen := map[*byte]bool{}
	for _, p := range pieces {
		for _, key := range [][]byte{[]byte(`"id":"`), []byte(`"id": "`)} {
			for off := 0; ; {
				i := bytes.Index(p[off:], key)
				if i < 0 {
					break
				}
				start := off + i + len(key)
				end := start + bytes.IndexByte(p[start:], '"')
				if end-start >= 16 && !seen[&p[end-8]] {
					seen[&p[end-8]] = true
					m.ids = append(m.ids, p[end-8:end])
				}
				off = end
			}
		}
	}
	return m
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
	seq := responseSeq.Add(1)
	for _, id := range m.ids {
		for i := len(id) - 1; i >= 0; i-- {
			id[i] = "0123456789abcdef"[seq>>(4*(len(id)-1-i))&0xf]
		}
	}
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

func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs op b.N times and reports, beside ns/op, the CPU time per op (cpu-ns/op) and,
// when perOp > 1, the wall and CPU time per unit (ns/chunk, cpu-ns/chunk).
func measure(b *testing.B, perOp int, op func()) {
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuNow()
	for i := 0; i < b.N; i++ {
		op()
	}
	used := float64((cpuNow() - cpu).Nanoseconds())
	b.StopTimer()
	b.ReportMetric(used/float64(b.N), "cpu-ns/op")
	if perOp > 1 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perOp), "ns/chunk")
		b.ReportMetric(used/float64(b.N*perOp), "cpu-ns/chunk")
	}
}

// measurePairs is the overhead figure that holds on a loaded machine: each op makes one
// unwrapped and one wrapped call (in alternating order), each timed alone, and the overhead
// reported is the median wrapped call minus the median unwrapped call (overhead-ns/op, and
// per unit overhead-ns/chunk when perOp > 1). A preemption or a garbage collection lands in
// the slow tail of one call, which the median leaves out, and both calls see the same load
// at the same moment, unlike two sub-benchmarks run one after the other.
func measurePairs(b *testing.B, perOp int, unwrapped, wrapped func()) {
	b.ReportAllocs()
	plain := make([]time.Duration, 0, b.N)
	tracked := make([]time.Duration, 0, b.N)
	timed := func(op func(), into *[]time.Duration) {
		start := time.Now()
		op()
		*into = append(*into, time.Since(start))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			timed(unwrapped, &plain)
			timed(wrapped, &tracked)
		} else {
			timed(wrapped, &tracked)
			timed(unwrapped, &plain)
		}
	}
	b.StopTimer()
	over := float64(median(tracked) - median(plain))
	b.ReportMetric(float64(median(plain)), "unwrapped-ns/op")
	b.ReportMetric(over, "overhead-ns/op")
	if perOp > 1 {
		b.ReportMetric(over/float64(perOp), "overhead-ns/chunk")
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// transportOnly: the RoundTripper under test, alone (wrapped: tollgate.Transport over rt).
func transportOnly(b *testing.B, rt http.RoundTripper, wrapped bool) http.RoundTripper {
	if !wrapped {
		return rt
	}
	e, err := tollgate.NewEngine(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	return &tollgate.Transport{Base: rt, Engine: e, Provider: "openai", Default: tollgate.Call{CustomerID: "cust"}, OnError: func(err error) { b.Error(err) }}
}

// roundTrip sends one Chat Completions request and reads the whole answer as the SDKs do
// (io.ReadAll for a JSON body; a bufio.Reader of 4 KiB for a stream), then closes it.
func roundTrip(b *testing.B, rt http.RoundTripper, stream bool) {
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:1/v1/chat/completions", http.NoBody)
	if err != nil {
		b.Fatal(err)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		b.Fatal(err)
	}
	if stream {
		buf := make([]byte, 4096)
		for {
			if _, err := resp.Body.Read(buf); err != nil {
				break
			}
		}
	} else if _, err := io.ReadAll(resp.Body); err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
}

// BenchmarkTransportCall: the transport alone, one non-stream Chat Completions response
// (openai_chat_1.json, 1.4 KB) per op; wrapped minus unwrapped is the per-call overhead.
func BenchmarkTransportCall(b *testing.B) {
	body, err := os.ReadFile(filepath.Join(fixtures, "openai_chat_1.json"))
	if err != nil {
		b.Skip(err)
	}
	for _, wrapped := range []bool{false, true} {
		b.Run(map[bool]string{false: "unwrapped", true: "wrapped"}[wrapped], func(b *testing.B) {
			rt := transportOnly(b, newMemReplay("application/json", [][]byte{body}), wrapped)
			measure(b, 1, func() { roundTrip(b, rt, false) })
		})
	}
	b.Run("overhead", func(b *testing.B) {
		plain := transportOnly(b, newMemReplay("application/json", [][]byte{body}), false)
		tracked := transportOnly(b, newMemReplay("application/json", [][]byte{body}), true)
		measurePairs(b, 1, func() { roundTrip(b, plain, false) }, func() { roundTrip(b, tracked, false) })
	})
}

// BenchmarkTransportStreamChunk: the transport alone, the stream of
// BenchmarkChatStreamChunk, one SSE event per Read; per chunk wrapped minus unwrapped is the
// per-chunk overhead.
func BenchmarkTransportStreamChunk(b *testing.B) {
	events := sseEvents(b, "openai_chat_stream_1.sse", 50)
	for _, wrapped := range []bool{false, true} {
		b.Run(map[bool]string{false: "unwrapped", true: "wrapped"}[wrapped], func(b *testing.B) {
			rt := transportOnly(b, newMemReplay("text/event-stream", events), wrapped)
			measure(b, len(events), func() { roundTrip(b, rt, true) })
		})
	}
	b.Run("overhead", func(b *testing.B) {
		plain := transportOnly(b, newMemReplay("text/event-stream", events), false)
		tracked := transportOnly(b, newMemReplay("text/event-stream", events), true)
		measurePairs(b, len(events), func() { roundTrip(b, plain, true) }, func() { roundTrip(b, tracked, true) })
	})
}

// BenchmarkEngineStreamChunk: the engine's share of BenchmarkTransportStreamChunk/wrapped,
// without any transport: the same events fed to a tollgate.Stream in 16 KiB batches (as the
// Transport feeds them), then finished. What is left of the wrapped-minus-unwrapped cost per
// chunk is the transport's own.
func BenchmarkEngineStreamChunk(b *testing.B) {
	events := sseEvents(b, "openai_chat_stream_1.sse", 50)
	var batches [][]byte
	var cur []byte
	for _, ev := range events {
		if len(cur)+len(ev) > 16<<10 {
			batches, cur = append(batches, cur), nil
		}
		cur = append(cur, ev...)
	}
	batches = append(batches, cur)
	measure(b, len(events), func() {
		s, err := tollgate.NewStream("openai", "")
		if err != nil {
			b.Fatal(err)
		}
		for _, batch := range batches {
			if err := s.Feed(batch); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := s.Finish(); err != nil {
			b.Fatal(err)
		}
		s.Close()
	})
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
			c := benchClient(b, newMemReplay("application/json", [][]byte{body}), wrapped)
			ctx := context.Background()
			measure(b, 1, func() {
				if _, err := c.Chat.Completions.New(ctx, chatParams); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
	b.Run("overhead", func(b *testing.B) {
		ctx := context.Background()
		call := func(c openai.Client) func() {
			return func() {
				if _, err := c.Chat.Completions.New(ctx, chatParams); err != nil {
					b.Fatal(err)
				}
			}
		}
		plain := benchClient(b, newMemReplay("application/json", [][]byte{body}), false)
		tracked := benchClient(b, newMemReplay("application/json", [][]byte{body}), true)
		measurePairs(b, 1, call(plain), call(tracked))
	})
}

// BenchmarkChatStreamChunk: a streamed Chat Completions call of openai_chat_stream_1.sse with
// its content events repeated 50 times; ns/chunk is the time per SSE event.
func BenchmarkChatStreamChunk(b *testing.B) {
	events := sseEvents(b, "openai_chat_stream_1.sse", 50)
	for _, wrapped := range []bool{false, true} {
		b.Run(map[bool]string{false: "unwrapped", true: "wrapped"}[wrapped], func(b *testing.B) {
			c := benchClient(b, newMemReplay("text/event-stream", events), wrapped)
			ctx := context.Background()
			measure(b, len(events), func() {
				s := c.Chat.Completions.NewStreaming(ctx, chatParams)
				for s.Next() {
				}
				if err := s.Err(); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}
