package tollgate

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestVersionMatchesThePackage(t *testing.T) {
	// 1 << 16 | 1: major 1, minor 1 (ABI 1.1 added tg_state_save and tg_report_query).
	if v := ABIVersion(); v != 65537 {
		t.Fatalf("ABIVersion() = %d, want 65537", v)
	}
}

func TestStatusStrings(t *testing.T) {
	if OK.String() != "ok" || ErrBufferTooSmall.String() != "output buffer too small" {
		t.Fatalf("got %q / %q", OK.String(), ErrBufferTooSmall.String())
	}
	if Status(-1).String() != "unknown status" {
		t.Fatalf("unknown code: %q", Status(-1).String())
	}
	for s := OK; s <= ErrPanic; s++ {
		if s.String() == "unknown status" {
			t.Errorf("status %d has no description", s)
		}
	}
}

func TestCentsRoundTripExactly(t *testing.T) {
	for _, text := range []string{"0", "0.4245", "330", "-12.5", "0.000000000000000000000001", "123456789.123456789"} {
		c, err := ParseCents(text)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		if c.String() != text {
			t.Errorf("%s round-trips to %s", text, c.String())
		}
	}
	// 1 cent = 10^24 = 54210 * 2^64 + 0x1BCECCEDA1000000.
	if c, _ := ParseCents("1"); c != (Cents{Hi: 54210, Lo: 0x1BCECCEDA1000000}) {
		t.Fatalf("layout: %+v", c)
	}
	// The library's formatting agrees with the package's big.Int formatting.
	q := Cents{Hi: 23012, Lo: 0x30ECA69BA8500000} // 4245 * 10^20 = 0.4245 cents
	r, buf := rawDecimalFormat(q, 48, false)
	if r.status != OK || string(buf[:r.outLen]) != "0.4245" || q.String() != "0.4245" {
		t.Fatalf("format: %v %q %s", r.status, buf[:r.outLen], q)
	}
}

func TestTooPreciseAmountsAreRejectedNotRounded(t *testing.T) {
	_, err := ParseCents("0.0000000000000000000000001")
	if !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), "fractional digits") {
		t.Fatalf("got %v", err)
	}
	if _, err := ParseCents("1e20"); !errors.Is(err, ErrOverflow) {
		t.Fatalf("got %v", err)
	}
}

func TestHostileDecimalArguments(t *testing.T) {
	r, out := rawDecimalParse(nil, true, 3, false)
	if r.status != ErrNull || r.message != "text: pointer is NULL but length is 3" || out != (Cents{7, 7}) {
		t.Fatalf("NULL text: %+v %+v", r, out)
	}
	if r, _ := rawDecimalParse(nil, true, 0, false); r.status != ErrInvalidInput { // empty text
		t.Fatalf("empty: %+v", r)
	}
	if r, _ := rawDecimalParse([]byte{0xff}, false, 1, false); r.status != ErrInvalidUTF8 {
		t.Fatalf("utf8: %+v", r)
	}
	if r, _ := rawDecimalParse([]byte("1"), false, 1, true); r.status != ErrNull {
		t.Fatalf("NULL out: %+v", r)
	}
	c, _ := ParseCents("0.4245")
	r, buf := rawDecimalFormat(c, 3, false)
	if r.status != ErrBufferTooSmall || r.outLen != 6 || string(buf) != "\t\t\t" {
		t.Fatalf("small buffer: %+v %q", r, buf)
	}
	if r, _ := rawDecimalFormat(c, 0, true); r.status != ErrBufferTooSmall || r.outLen != 6 {
		t.Fatalf("size query: %+v", r)
	}
	// use after errors
	if c, err := ParseCents("2.5"); err != nil || c.String() != "2.5" {
		t.Fatalf("after errors: %v %s", err, c)
	}
}

func TestEngineArguments(t *testing.T) {
	_, err := NewEngine(&Options{DedupeWindow: -5 * time.Millisecond})
	var te *Error
	if !errors.As(err, &te) || te.Status != ErrInvalidInput || !strings.HasPrefix(te.Message, "dedupe_window_ms: -5") {
		t.Fatalf("got %v", err)
	}
	if r := rawEngineNewNullOut(); r.status != ErrNull {
		t.Fatalf("NULL out: %+v", r)
	}
	rawEngineFreeNull()
	if r, _ := rawPriceJSON(nil, "null", []byte("{}"), false, 2, 64); r.status != ErrNull || r.message != "tg_engine: pointer is NULL" {
		t.Fatalf("NULL engine: %+v", r)
	}
	if r, _ := rawPriceJSON(nil, "foreign", []byte("{}"), false, 2, 64); r.status != ErrInvalidHandle {
		t.Fatalf("foreign handle: %+v", r)
	}
}
