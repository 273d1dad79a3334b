package tollgate

import (
	"encoding/json"
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
		`{"results":[{"status":"accepted"},{"status":"rejected","kind":"too_late"}]}`:               false,
		`{"results":[{"status":"conflict","reason":"x \"status\":\"accepted\""}]}`:                  false,
		`{"results":[{"status":"accepted","warnings":["a \"status\":\"rejected\" in a warning"]}]}`: true,
		`{"results":[{"status":"acceptedX"}]}`:                                                      false,
	} {
		if got := allAccepted([]byte(out)); got != want {
			t.Errorf("%s: %v, want %v", out, got, want)
		}
	}
}
