package tollgate

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// The context JSON the Transport writes by hand is what encoding/json writes for the same
// strings (quotes, backslashes, control characters, non-ASCII, invalid UTF-8), HTML
// characters aside (JSON does not need them escaped; both forms read back equal).
func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "cust_A", `a"b\c`, "tab\tnl\ncr\r", "\x00\x01\x1f\x7f", "é漢字🙂", "bad\xffutf8\xc3", "\u2028\u2029", "<&>"} {
		got := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q: %s is not JSON: %v", s, got, err)
		}
		want, _ := json.Marshal(s)
		var wantBack string
		_ = json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Fatalf("%q: wrote %s (reads %q), encoding/json reads %q", s, got, back, wantBack)
		}
	}
}

func TestAllAccepted(t *testing.T) {
	for out, want := range map[string]bool{
		`{"results":[{"status":"accepted","costCents":"1"}]}`:        true,
		`{"results":[{"status":"duplicate"},{"status":"accepted"}]}`: true,
		`{"results":[]}`: false,
		`{"results":[{"status":"accepted"},{"status":"rejected","kind":"too_late"}]}`:                 false,
		`{"results":[{"status":"conflict","reason":"x \"status\":\"accepted\""}]}`:                    false,
		`{"results":[{"status":"accepted","warnings":["a \"status\":\"rejected\" in a warning"]}]}`:   true,
		`{"results":[{"status":"acceptedX"}]}`:                                                        false,
		`{"results":[{"status":"accepted","reason":"a:b::\"status\":\"x\""},{"status":"duplicate"}]}`: true,
		`{"results":[{"status":"duplicate"},{"status":"conflict","reason":":"}]}`:                     false,
		`{"status":"accepted"}`: true,
		`{"status":`:            false,
	} {
		if got := allAccepted([]byte(out)); got != want {
			t.Errorf("%s: %v, want %v", out, got, want)
		}
	}
}

// A response of two line items (anthropic_stream_5.sse: claude-sonnet-5 2411 in / 145 out,
// claude-opus-4-8 2543 in / 18 out) tracked with a context idempotency key: the first item
// is booked under the key, the second under "<key>#2", each with the context's customer and
// run; the same response again is two duplicates, and an event of other terms under
// "<key>#2" is a conflict.
func TestTrackResponseLineItemKeys(t *testing.T) {
	path := filepath.Join(sharedDir(), "fixtures", "providers", "anthropic_stream_5.sse")
	sharedOrSkip(t, path)
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine(t)
	ctx := []byte(`{"customerId":"c","runId":"r","idempotencyKey":"k"}`)
	for _, want := range []string{"accepted", "duplicate"} {
		rs, err := e.TrackResponse("anthropic", body, ctx, "")
		if err != nil || len(rs) != 2 || rs[0].Status != want || rs[1].Status != want {
			t.Fatalf("%s: %+v %v", want, rs, err)
		}
	}
	rows, err := e.Margin([]byte(`{"groupBy":["customer","run","model"]}`))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]uint64{}
	for _, r := range rows {
		if *r.CustomerID != "c" || *r.RunID != "r" {
			t.Fatalf("row %+v", r)
		}
		got[*r.Model] = [2]uint64{r.Tokens.TokensIn, r.Tokens.TokensOut}
	}
	if len(got) != 2 || got["claude-sonnet-5"] != [2]uint64{2411, 145} || got["claude-opus-4-8"] != [2]uint64{2543, 18} {
		t.Fatalf("booked %v", got)
	}
	r, err := e.TrackJSON([]byte(`{"customerId":"c","provider":"anthropic","model":"claude-opus-4-8","tokensIn":1,"idempotencyKey":"k#2"}`))
	if err != nil || r.Status != "conflict" {
		t.Fatalf("k#2: %+v %v", r, err)
	}
}

// allAccepted answers what the plain search for every `"status":"` answers (its previous
// definition), on strings made of the pieces that matter.
func TestAllAcceptedMatchesKeySearch(t *testing.T) {
	bySearch := func(out []byte) bool {
		seen := false
		for {
			i := bytes.Index(out, []byte(`"status":"`))
			if i < 0 {
				return seen
			}
			out = out[i+len(`"status":"`):]
			if !bytes.HasPrefix(out, []byte(`accepted"`)) && !bytes.HasPrefix(out, []byte(`duplicate"`)) {
				return false
			}
			seen = true
		}
	}
	pieces := []string{`"status":"`, `"status":`, `"status"`, `:`, `"`, `accepted"`, `duplicate"`, `rejected"`, `status`, `\`, `,`, `{`, `}`, `x`, `::`}
	r := rand.New(rand.NewPCG(13, 5))
	accepted := 0
	for n := 0; n < 20000; n++ {
		var b []byte
		for k := r.IntN(12); k >= 0; k-- {
			b = append(b, pieces[r.IntN(len(pieces))]...)
		}
		got, want := allAccepted(b), bySearch(b)
		if got != want {
			t.Fatalf("%s: %v, the key search says %v", b, got, want)
		}
		if got {
			accepted++
		}
	}
	if accepted < 500 || accepted > 19500 {
		t.Fatalf("%d of 20000 cases accepted: the cases do not exercise both answers", accepted)
	}
}
