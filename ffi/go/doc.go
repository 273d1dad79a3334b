// Package tollgate is the Go binding of the Tollgate engine's C ABI (include/tollgate.h):
// exact LLM pricing and live gross margin, the same core every other language embeds.
//
// The package links the static library target/release/libtollgate_ffi.a (build it with
// `cargo build --release -p tollgate-ffi`) and checks tg_abi_version() at init.
//
// Money is exact: Cents is the engine's fixed-point amount (a 128-bit mantissa of 10^-24
// cent); results in JSON carry decimal strings. No float64 is ever used for money.
//
// An Engine is safe for concurrent use by many goroutines. A Stream is used by one
// goroutine at a time. Errors are *Error values carrying the C status; compare with
// errors.Is(err, tollgate.ErrInvalidInput) and friends.
package tollgate
