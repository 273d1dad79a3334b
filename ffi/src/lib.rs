//! # The C ABI of the Tollgate engine
//!
//! Everything `include/tollgate.h` declares is defined here. This crate is the only place in the
//! project with `unsafe`; the engine itself is safe Rust (`tollgate`).
//!
//! Conventions every exported function follows (the header states them once at the top and
//! per function):
//! - Every body runs inside one boundary function: a panic becomes [`status::TG_ERR_PANIC`],
//!   never an unwind across the C frame.
//! - The return value is an `int32_t` status ([`status`]); outputs are written only on success.
//!   Error detail goes into a caller-owned [`error::tg_error`] (optional), never a thread-local.
//! - Inputs are `(pointer, length)`; `(NULL, 0)` is a valid empty input; nothing the caller
//!   passes is retained after the call returns.
//! - Variable-size outputs go into caller buffers; when a buffer is too small the call fails
//!   with [`status::TG_ERR_BUFFER_TOO_SMALL`] and reports the needed length.
//! - Money crosses the boundary as [`decimal::tg_decimal`] (exact fixed point) or as decimal
//!   strings inside JSON; never as a float.
#![deny(missing_docs)]
#![allow(non_camel_case_types)]
// Every exported function documents its pointer contract in prose ("must be NULL or point to
// …"); the `# Safety` heading would duplicate that in a format C readers do not expect.
#![allow(clippy::missing_safety_doc)]

mod boundary;
pub mod decimal;
pub mod engine;
pub mod error;
pub mod guard;
mod handles;
mod json;
pub mod ledger;
pub mod price;
pub mod snapshot;
pub mod status;
pub mod store;
pub mod sync;
#[cfg(feature = "test-hooks")]
mod test_hooks;
pub mod usage;
pub mod version;

pub use decimal::tg_decimal;
pub use error::tg_error;
