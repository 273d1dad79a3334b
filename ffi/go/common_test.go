package tollgate

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var (
	repoRoot = filepath.Join("..", "..")
	// sharedFixtures: ../shared beside the repository, or $TOLLGATE_SHARED_DIR when set.
	sharedFixtures = filepath.Join(sharedDir(), "fixtures", "providers")
	// ownFixtures: the project's own provider responses, present in every clone.
	ownFixtures = filepath.Join(repoRoot, "data", "fixtures", "providers")
)

func sharedDir() string {
	if d := os.Getenv("TOLLGATE_SHARED_DIR"); d != "" {
		return d
	}
	return filepath.Join(repoRoot, "..", "shared")
}

// sharedOrSkip skips t (printing SKIPPED) when the ../shared input path is absent, or fails it
// when TOLLGATE_REQUIRE_SHARED is set (CI sets it: there the input must be present).
func sharedOrSkip(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return
	}
	if os.Getenv("TOLLGATE_REQUIRE_SHARED") != "" {
		t.Fatalf("%s is absent and TOLLGATE_REQUIRE_SHARED is set", path)
	}
	fmt.Printf("SKIPPED: %s is absent (it lives in ../shared beside the repository)\n", path)
	t.Skipf("%s is absent", path)
}

type vector struct {
	ID       string          `json:"id"`
	Exact    bool            `json:"-"`
	Event    json.RawMessage `json:"event"`
	Expected struct {
		Priced    bool   `json:"priced"`
		CostCents string `json:"costCents"`
	} `json:"expected"`
}

// pricingVectors reads the ABI's hand-computed vectors (exact expectations) plus the pricing
// golden vectors when present (reference expectations): every binding prices exactly these.
func pricingVectors(t testing.TB) []vector {
	var out []vector
	for i, f := range []string{
		filepath.Join(repoRoot, "data", "ffi", "vectors.jsonl"),
		filepath.Join(repoRoot, "data", "golden", "pricing.jsonl"),
	} {
		fh, err := os.Open(f)
		if err != nil {
			if i == 0 {
				t.Fatalf("open %s: %v", f, err)
			}
			continue
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for line := 1; sc.Scan(); line++ {
			if len(sc.Bytes()) == 0 {
				continue
			}
			var v vector
			if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			v.Exact = i == 0
			if v.ID == "" {
				v.ID = fmt.Sprintf("ffi-%d", line)
			}
			out = append(out, v)
		}
		fh.Close()
	}
	return out
}

// itemFromEvent maps an event record to a PriceItem (the struct fast path).
func itemFromEvent(t testing.TB, raw json.RawMessage) (PriceItem, bool) {
	var ev map[string]json.RawMessage
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	var it PriceItem
	counts := map[string]*uint64{
		"tokensIn": &it.TokensIn, "cachedTokens": &it.CachedTokens, "cacheWrite5mTokens": &it.CacheWrite5mTokens,
		"cacheWrite1hTokens": &it.CacheWrite1hTokens, "audioTokensIn": &it.AudioTokensIn, "imageTokensIn": &it.ImageTokensIn,
		"tokensOut": &it.TokensOut, "reasoningTokens": &it.ReasoningTokens, "audioTokensOut": &it.AudioTokensOut,
		"imageTokensOut": &it.ImageTokensOut, "webSearchRequests": &it.WebSearchRequests, "toolCalls": &it.ToolCalls,
	}
	strs := map[string]*string{"provider": &it.Provider, "model": &it.Model, "inferenceGeo": &it.InferenceGeo, "speed": &it.Speed}
	for k, v := range ev {
		switch {
		case counts[k] != nil:
			if err := json.Unmarshal(v, counts[k]); err != nil {
				return it, false
			}
		case strs[k] != nil:
			if err := json.Unmarshal(v, strs[k]); err != nil {
				return it, false
			}
		case k == "serviceTier":
			var s string
			if json.Unmarshal(v, &s) != nil {
				return it, false
			}
			tier, ok := ParseTier(s)
			if !ok {
				return it, false
			}
			it.ServiceTier = tier
		case k == "timestamp":
			var text string
			if json.Unmarshal(v, &text) == nil {
				ts, err := time.Parse(time.RFC3339Nano, text)
				if err != nil {
					return it, false
				}
				it.Timestamp = ts
			} else {
				var ms int64
				if json.Unmarshal(v, &ms) != nil {
					return it, false
				}
				it.Timestamp = time.UnixMilli(ms)
			}
		case k == "providerCostCents" || k == "externalCostCents":
			var s string
			if json.Unmarshal(v, &s) != nil {
				s = string(v)
			}
			c, err := ParseCents(s)
			if err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			if k == "providerCostCents" {
				it.ProviderCostCents = &c
			} else {
				it.ExternalCostCents = &c
			}
		default:
			return it, false
		}
	}
	return it, true
}

// within1e9 is |got - want| <= want * 1e-9, exactly (big.Rat), as the core's golden test.
func within1e9(got, want string) bool {
	g, ok1 := new(big.Rat).SetString(got)
	w, ok2 := new(big.Rat).SetString(want)
	if !ok1 || !ok2 {
		return false
	}
	d := new(big.Rat).Sub(g, w)
	d.Abs(d)
	d.Mul(d, big.NewRat(1_000_000_000, 1))
	return d.Cmp(w) <= 0
}

// centsLog collects id<TAB>costCents<TAB>priced lines for $TOLLGATE_CENTS_OUT/<lang>.<part>.tsv,
// which CI compares across languages.
type centsLog struct{ b strings.Builder }

func (l *centsLog) write(id, cents string, priced bool) {
	fmt.Fprintf(&l.b, "%s\t%s\t%t\n", id, cents, priced)
}

func (l *centsLog) close(t testing.TB, lang, part string) {
	if dir := os.Getenv("TOLLGATE_CENTS_OUT"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, lang+"."+part+".tsv"), []byte(l.b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
