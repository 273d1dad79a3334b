package tollgate

/*
#cgo CFLAGS: -I${SRCDIR}/lib/include
#include <stdlib.h>
#include "tollgate.h"
*/
import "C"

import (
	"fmt"
	"math/big"
	"runtime"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// ABI version this package was written against; checked against the library at init.
const (
	ABIVersionMajor = 1
	ABIVersionMinor = 0
	// CentsScale is the number of fractional digits of a cent in a Cents mantissa.
	CentsScale = 24
)

func init() {
	v := ABIVersion()
	if v>>16 != ABIVersionMajor || v < ABIVersionMajor<<16|ABIVersionMinor {
		panic(fmt.Sprintf("tollgate: library ABI %d.%d is incompatible with this package (needs %d.%d+)",
			v>>16, v&0xffff, ABIVersionMajor, ABIVersionMinor))
	}
}

// ABIVersion is the loaded library's ABI version, major<<16 | minor.
func ABIVersion() uint32 { return uint32(C.tg_abi_version()) }

// Status is a C status code (TG_OK, TG_ERR_*). A non-OK Status is also an error value, so
// errors.Is(err, ErrBufferTooSmall) works on any error this package returns.
type Status int32

// The status codes of include/tollgate.h.
const (
	OK                Status = C.TG_OK
	ErrNull           Status = C.TG_ERR_NULL
	ErrInvalidHandle  Status = C.TG_ERR_INVALID_HANDLE
	ErrInvalidUTF8    Status = C.TG_ERR_INVALID_UTF8
	ErrInvalidInput   Status = C.TG_ERR_INVALID_INPUT
	ErrLimit          Status = C.TG_ERR_LIMIT
	ErrBufferTooSmall Status = C.TG_ERR_BUFFER_TOO_SMALL
	ErrRateCard       Status = C.TG_ERR_RATE_CARD
	ErrNotFound       Status = C.TG_ERR_NOT_FOUND
	ErrNoUsage        Status = C.TG_ERR_NO_USAGE
	ErrState          Status = C.TG_ERR_STATE
	ErrOverflow       Status = C.TG_ERR_OVERFLOW
	ErrTooLate        Status = C.TG_ERR_TOO_LATE
	ErrMisuse         Status = C.TG_ERR_MISUSE
	ErrPanic          Status = C.TG_ERR_PANIC
	ErrIO             Status = C.TG_ERR_IO
	ErrLocked         Status = C.TG_ERR_LOCKED
)

// String is the library's static description of the code.
func (s Status) String() string { return C.GoString(C.tg_status_str(C.int32_t(s))) }

// Error makes a Status usable as a sentinel error.
func (s Status) Error() string { return s.String() }

// Error is a failed call: the status and the library's detail message (which never contains
// prompt or completion text).
type Error struct {
	Status  Status
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "tollgate: " + e.Status.String()
	}
	return "tollgate: " + e.Message
}

// Unwrap returns the Status, so errors.Is(err, tollgate.ErrInvalidInput) matches.
func (e *Error) Unwrap() error { return e.Status }

func newError(status C.int32_t, cerr *C.tg_error) error {
	e := &Error{Status: Status(status)}
	if cerr != nil && cerr.status == status {
		n := int(cerr.message_len)
		if n > len(cerr.message) {
			n = len(cerr.message)
		}
		// Copied without a cgo call, so cerr can stay on the caller's stack.
		e.Message = string(unsafe.Slice((*byte)(unsafe.Pointer(&cerr.message[0])), n))
	}
	return e
}

// bytesPtr is the (pointer, length) form of a byte slice; (nil, 0) for an empty one. The
// slice holds no Go pointers, so passing it to C is allowed by the cgo rules.
func bytesPtr(b []byte) (*C.uint8_t, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0])), C.size_t(len(b))
}

// callBuffered runs call with a caller buffer, growing it to the needed length the library
// reports with TG_ERR_BUFFER_TOO_SMALL.
func callBuffered(initial int, call func(out *C.uint8_t, cap C.size_t, outLen *C.size_t, cerr *C.tg_error) C.int32_t) ([]byte, error) {
	buf := make([]byte, initial)
	for i := 0; i < 8; i++ {
		var n C.size_t
		var cerr C.tg_error
		var p *C.uint8_t
		if len(buf) > 0 {
			p = (*C.uint8_t)(unsafe.Pointer(&buf[0]))
		}
		s := call(p, C.size_t(len(buf)), &n, &cerr)
		if s == C.TG_OK {
			return buf[:n], nil
		}
		if s != C.TG_ERR_BUFFER_TOO_SMALL {
			return nil, newError(s, &cerr)
		}
		size := int(n)
		if size < 2*len(buf) {
			size = 2 * len(buf)
		}
		buf = make([]byte, size)
	}
	return nil, &Error{Status: ErrBufferTooSmall, Message: "output kept growing"}
}

// Cents is an exact amount of money in cents: a signed 128-bit mantissa (Hi:Lo, two's
// complement) of 10^-24 cent, the layout of tg_decimal.
type Cents struct {
	Hi int64
	Lo uint64
}

var tenPow24 = new(big.Int).Exp(big.NewInt(10), big.NewInt(CentsScale), nil)

// Mantissa is the amount in units of 10^-24 cent.
func (c Cents) Mantissa() *big.Int {
	m := new(big.Int).Lsh(big.NewInt(c.Hi), 64)
	return m.Or(m, new(big.Int).SetUint64(c.Lo))
}

// String is the exact decimal text in cents, shortest form ("0.4245", "330", "-12.5").
func (c Cents) String() string {
	m := c.Mantissa()
	neg := m.Sign() < 0
	m.Abs(m)
	whole, frac := new(big.Int).QuoRem(m, tenPow24, new(big.Int))
	s := whole.String()
	if frac.Sign() != 0 {
		f := strings.TrimRight(fmt.Sprintf("%0*s", CentsScale, frac.String()), "0")
		s += "." + f
	}
	if neg {
		s = "-" + s
	}
	return s
}

// ParseCents parses exact decimal text of cents ("12.5", "1e-6"); it fails rather than
// rounds when the text has more than 24 fractional digits.
func ParseCents(text string) (Cents, error) {
	b := []byte(text)
	p, n := bytesPtr(b)
	var out C.tg_decimal
	var cerr C.tg_error
	if s := C.tg_decimal_parse(p, n, &out, &cerr); s != C.TG_OK {
		return Cents{}, newError(s, &cerr)
	}
	return Cents{Hi: int64(out.hi), Lo: uint64(out.lo)}, nil
}

func (c Cents) raw() C.tg_decimal { return C.tg_decimal{hi: C.int64_t(c.Hi), lo: C.uint64_t(c.Lo)} }

// Options configure NewEngine.
type Options struct {
	// RateCard is a LiteLLM-format registry replacing the embedded one (nil: embedded).
	RateCard []byte
	// DedupeWindow is how long idempotency keys are kept, in event time (millisecond
	// precision); 0 selects the default (24 hours).
	DedupeWindow time.Duration
	// DedupeForever keeps idempotency keys forever (overrides DedupeWindow).
	DedupeForever bool
	// Clock fixes the ledger's "now" for tests and replays; the zero Time is the system clock.
	Clock time.Time
}

// Engine is the engine: rate-card snapshots, pricing and the ledger. Safe for concurrent use;
// Close frees it once no call is in progress.
type Engine struct {
	mu sync.RWMutex
	p  *C.tg_engine
	// rmu guards refreshers, the running background refreshers (Close stops them).
	rmu        sync.Mutex
	refreshers map[*Refresher]struct{}
}

// NewEngine creates an engine. A nil opts uses the defaults.
func NewEngine(opts *Options) (*Engine, error) {
	o := C.tg_engine_options_default()
	var card []byte
	if opts != nil {
		switch {
		case opts.DedupeForever:
			o.dedupe_window_ms = C.TG_DEDUPE_WINDOW_FOREVER
		case opts.DedupeWindow != 0:
			o.dedupe_window_ms = C.int64_t(opts.DedupeWindow.Milliseconds())
		}
		card = opts.RateCard
		if !opts.Clock.IsZero() {
			o.clock_ms = C.int64_t(opts.Clock.UnixMilli())
		}
	}
	p, n := bytesPtr(card)
	var e *C.tg_engine
	var cerr C.tg_error
	if s := C.tg_engine_new(&o, p, n, &e, &cerr); s != C.TG_OK {
		return nil, newError(s, &cerr)
	}
	out := &Engine{p: e}
	runtime.SetFinalizer(out, (*Engine).Close)
	return out, nil
}

// Close frees the engine (io.Closer). It waits for calls in progress; closing twice is a
// no-op. An engine never closed is freed by its finalizer.
func (e *Engine) Close() error {
	e.stopRefreshers()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.p == nil {
		return nil
	}
	// A durable engine flushes its journal here; the handle is freed either way.
	var cerr C.tg_error
	s := C.tg_engine_close(e.p, &cerr)
	e.p = nil
	if s != C.TG_OK {
		return newError(s, &cerr)
	}
	return nil
}

// use runs f with the live handle while holding the read lock, so Close cannot free it.
func (e *Engine) use(f func(p *C.tg_engine) error) error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.p == nil {
		return &Error{Status: ErrInvalidHandle, Message: "engine is closed"}
	}
	return f(e.p)
}
