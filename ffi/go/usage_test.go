package tollgate

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

type fixture struct {
	File         string `json:"file"`
	Provider     string `json:"provider"`
	RequestModel string `json:"requestModel"`
	LineItems    []struct {
		TokensIn           uint64  `json:"tokensIn"`
		CachedTokens       uint64  `json:"cachedTokens"`
		CacheWrite5mTokens uint64  `json:"cacheWrite5mTokens"`
		CacheWrite1hTokens uint64  `json:"cacheWrite1hTokens"`
		TokensOut          uint64  `json:"tokensOut"`
		ReasoningTokens    *uint64 `json:"reasoningTokens"`
		Model              string  `json:"model"`
	} `json:"lineItems"`
}

func TestEveryFixtureOneShotStreamedAndPriced(t *testing.T) {
	sharedOrSkip(t, filepath.Join(sharedFixtures, "expected.jsonl"))
	f, err := os.Open(filepath.Join(sharedFixtures, "expected.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	e := newEngine(t)
	var log centsLog
	files, items := 0, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var want fixture
		if err := json.Unmarshal(sc.Bytes(), &want); err != nil {
			t.Fatal(err)
		}
		body, err := os.ReadFile(filepath.Join(sharedFixtures, want.File))
		if err != nil {
			t.Fatal(err)
		}
		got, err := ExtractUsage(want.Provider, body, want.RequestModel)
		if err != nil {
			t.Fatalf("%s: %v", want.File, err)
		}
		if len(got) != len(want.LineItems) {
			t.Fatalf("%s: %d line items, want %d", want.File, len(got), len(want.LineItems))
		}
		for i, w := range want.LineItems {
			g := got[i]
			if g.TokensIn != w.TokensIn || g.CachedTokens != w.CachedTokens || g.CacheWrite5mTokens != w.CacheWrite5mTokens ||
				g.CacheWrite1hTokens != w.CacheWrite1hTokens || g.TokensOut != w.TokensOut || g.Model != w.Model ||
				!reflect.DeepEqual(g.ReasoningTokens, w.ReasoningTokens) {
				t.Errorf("%s item %d: got %+v, want %+v", want.File, i, g, w)
			}
		}
		s, err := NewStream(want.Provider, want.RequestModel)
		if err != nil {
			t.Fatal(err)
		}
		for off := 0; off < len(body); off += 7 {
			if err := s.Feed(body[off:min(off+7, len(body))]); err != nil {
				t.Fatalf("%s: %v", want.File, err)
			}
		}
		streamed, err := s.Finish()
		s.Close()
		if err != nil || !reflect.DeepEqual(streamed, got) {
			t.Errorf("%s: streamed %v %+v differs from one-shot", want.File, err, streamed)
		}
		for i, g := range got {
			r, err := e.PriceJSON(g.Raw) // a line item is a valid event
			if err != nil {
				t.Fatalf("%s: %v", want.File, err)
			}
			log.write("fixture:"+want.File+"#"+itoa(i), r.CostCents, r.Priced)
			items++
		}
		files++
	}
	log.close(t, "go", "fixtures")
	if files != 34 || items != 35 {
		t.Fatalf("%d files, %d items", files, items)
	}
}

// The project's own provider responses (data/fixtures/providers/INDEX.md has the hand-worked
// line items): one-shot and streamed in 3-byte chunks.
func TestOwnProviderResponsesOneShotAndStreamed(t *testing.T) {
	text, err := os.ReadFile(filepath.Join(ownFixtures, "expected.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(text)), "\n")
	if len(lines) != 7 {
		t.Fatalf("%d responses, want 7", len(lines))
	}
	for _, line := range lines {
		var want fixture
		if err := json.Unmarshal([]byte(line), &want); err != nil {
			t.Fatal(err)
		}
		body, err := os.ReadFile(filepath.Join(ownFixtures, want.File))
		if err != nil {
			t.Fatal(err)
		}
		got, err := ExtractUsage(want.Provider, body, want.RequestModel)
		if err != nil {
			t.Fatalf("%s: %v", want.File, err)
		}
		if len(got) != len(want.LineItems) {
			t.Fatalf("%s: %d line items, want %d", want.File, len(got), len(want.LineItems))
		}
		for i, w := range want.LineItems {
			g := got[i]
			if g.TokensIn != w.TokensIn || g.CachedTokens != w.CachedTokens || g.CacheWrite5mTokens != w.CacheWrite5mTokens ||
				g.CacheWrite1hTokens != w.CacheWrite1hTokens || g.TokensOut != w.TokensOut || g.Model != w.Model ||
				!reflect.DeepEqual(g.ReasoningTokens, w.ReasoningTokens) {
				t.Errorf("%s item %d: got %+v, want %+v", want.File, i, g, w)
			}
		}
		s, err := NewStream(want.Provider, want.RequestModel)
		if err != nil {
			t.Fatal(err)
		}
		for off := 0; off < len(body); off += 3 {
			if err := s.Feed(body[off:min(off+3, len(body))]); err != nil {
				t.Fatalf("%s: %v", want.File, err)
			}
		}
		streamed, err := s.Finish()
		s.Close()
		if err != nil || !reflect.DeepEqual(streamed, got) {
			t.Errorf("%s: streamed %v %+v differs from one-shot", want.File, err, streamed)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

const okBody = `{"id":"chatcmpl-1","model":"gpt-4o","usage":{"prompt_tokens":10,"completion_tokens":2}}`

func TestExtractionBadInput(t *testing.T) {
	if got, err := ExtractUsage("openai", []byte(okBody), ""); err != nil || got[0].TokensIn != 10 {
		t.Fatalf("%v %+v", err, got)
	}
	for _, c := range []struct {
		provider, body string
		status         Status
		prefix         string
	}{
		{"gemini-ish", okBody, ErrInvalidInput, "provider: unknown provider"},
		{"openai", "{\"id\":\"x\xff\",\"model\":\"m\",\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}", ErrInvalidUTF8, ""},
		{"openai", "data: {\"id\":\"c1\",\"model\":\"gpt-4o\",\"choices\":[]}\n\ndata: [DONE]\n\n", ErrNoUsage, "no_usage:"},
		{"openai", `data: {"id":"c1","model":"gpt-4o","usage":{"prompt_tokens":1`, ErrInvalidInput, "truncated:"},
		{"bedrock", `{"usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2}}`, ErrInvalidInput, "missing_model:"},
	} {
		_, err := ExtractUsage(c.provider, []byte(c.body), "")
		var te *Error
		if !errors.As(err, &te) || te.Status != c.status || !strings.HasPrefix(te.Message, c.prefix) {
			t.Errorf("%q: got %v, want %v %q…", c.body, err, c.status, c.prefix)
		}
	}
	if _, err := ExtractUsage("openai", nil, ""); err == nil { // nothing is never zero tokens
		t.Fatal("empty body accepted")
	}
}

func TestStreamMisuseAndStickyErrors(t *testing.T) {
	s, err := NewStream("openai", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Feed(nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Feed([]byte(okBody)); err != nil {
		t.Fatal(err)
	}
	first, err := s.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if again, err := s.Finish(); err != nil || !reflect.DeepEqual(again, first) {
		t.Fatal("finish twice differs")
	}
	if err := s.Feed([]byte("x")); !errors.Is(err, ErrMisuse) {
		t.Fatalf("feed after finish: %v", err)
	}
	s.Close()
	s.Close()
	if err := s.Feed([]byte("x")); !errors.Is(err, ErrInvalidHandle) {
		t.Fatalf("feed after close: %v", err)
	}
	bad, _ := NewStream("openai", "")
	defer bad.Close()
	if err := bad.Feed([]byte("{\"id\":\"x\xff")); !errors.Is(err, ErrInvalidUTF8) {
		t.Fatalf("bad utf8: %v", err)
	}
	if err := bad.Feed([]byte("}")); !errors.Is(err, ErrInvalidUTF8) { // sticks
		t.Fatalf("sticky: %v", err)
	}
	if _, err := NewStream("nope", ""); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("unknown provider: %v", err)
	}
}
