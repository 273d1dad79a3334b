package tollgate

/*
#include <stdint.h>
#include "tollgate.h"
*/
import "C"

import "unsafe"

// Raw C calls with hostile arguments (NULL pointers, lengths that lie, foreign handles), for
// the package's own tests: _test.go files cannot use cgo.

type rawResult struct {
	status  Status
	message string
	outLen  int
}

func rawError(s C.int32_t, cerr *C.tg_error) rawResult {
	r := rawResult{status: Status(s)}
	if s != C.TG_OK {
		if e, ok := newError(s, cerr).(*Error); ok {
			r.message = e.Message
		}
	}
	return r
}

// rawDecimalParse calls tg_decimal_parse with a possibly-NULL text pointer of any length.
func rawDecimalParse(text []byte, nullText bool, textLen int, nullOut bool) (rawResult, Cents) {
	var p *C.uint8_t
	if !nullText && len(text) > 0 {
		p = (*C.uint8_t)(unsafe.Pointer(&text[0]))
	}
	out := C.tg_decimal{hi: 7, lo: 7}
	outp := &out
	if nullOut {
		outp = nil
	}
	var cerr C.tg_error
	s := C.tg_decimal_parse(p, C.size_t(textLen), outp, &cerr)
	return rawError(s, &cerr), Cents{Hi: int64(out.hi), Lo: uint64(out.lo)}
}

// rawDecimalFormat formats into a buffer of outCap bytes (nil buffer when nullOut).
func rawDecimalFormat(c Cents, outCap int, nullOut bool) (rawResult, []byte) {
	buf := make([]byte, outCap+1)
	for i := range buf {
		buf[i] = 9
	}
	var p *C.uint8_t
	if !nullOut {
		p = (*C.uint8_t)(unsafe.Pointer(&buf[0]))
	}
	var n C.size_t
	s := C.tg_decimal_format(c.raw(), p, C.size_t(outCap), &n)
	r := rawError(s, nil)
	r.outLen = int(n)
	return r, buf[:outCap]
}

// rawPriceJSON calls tg_price_json on the engine (or NULL / a foreign pointer).
func rawPriceJSON(e *Engine, handle string, event []byte, nullEvent bool, eventLen int, outCap int) (rawResult, []byte) {
	var p *C.tg_engine
	var junk [8]uint64
	switch handle {
	case "engine":
		p = e.p
	case "foreign":
		p = (*C.tg_engine)(unsafe.Pointer(&junk[0]))
	}
	var ev *C.uint8_t
	if !nullEvent && len(event) > 0 {
		ev = (*C.uint8_t)(unsafe.Pointer(&event[0]))
	}
	buf := make([]byte, outCap+1)
	var out *C.uint8_t
	if outCap > 0 {
		out = (*C.uint8_t)(unsafe.Pointer(&buf[0]))
	}
	var n C.size_t
	var cerr C.tg_error
	s := C.tg_price_json(p, ev, C.size_t(eventLen), out, C.size_t(outCap), &n, &cerr)
	r := rawError(s, &cerr)
	r.outLen = int(n)
	return r, buf[:outCap]
}

// rawEngineNew calls tg_engine_new with a NULL out pointer.
func rawEngineNewNullOut() rawResult {
	var cerr C.tg_error
	s := C.tg_engine_new(nil, nil, 0, nil, &cerr)
	return rawError(s, &cerr)
}

// rawEngineFreeNull calls tg_engine_free(NULL).
func rawEngineFreeNull() { C.tg_engine_free(nil) }

// rawTrackJSON calls tg_track_json with an output buffer of outCap bytes.
func rawTrackJSON(e *Engine, event []byte, outCap int) rawResult {
	buf := make([]byte, outCap+1)
	ev := (*C.uint8_t)(unsafe.Pointer(&event[0]))
	var n C.size_t
	var cerr C.tg_error
	s := C.tg_track_json(e.p, ev, C.size_t(len(event)), (*C.uint8_t)(unsafe.Pointer(&buf[0])), C.size_t(outCap), &n, &cerr)
	r := rawError(s, &cerr)
	r.outLen = int(n)
	return r
}
