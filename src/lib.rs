//! # Tollgate engine
//!
//! Prices LLM usage exactly and computes live gross margin. One Rust core, a C ABI for every
//! other language, and the `tollgate` command line over the same core.
//!
//! - [`money`]: exact amounts ([`money::Cents`]), never a float.
//! - [`usage`]: the normalized usage record every provider is mapped to.
//! - [`event`]: the JSON event record (docs/reference/events.md (event record)), strictly validated.
//! - [`ratecard`]: the LiteLLM registry, parsed exactly, as immutable snapshots.
//! - [`engine`]: snapshot history, overrides and the price entry points.
//! - `lookup` and `pricing` (internal): model-name lookup and the cost formula.
//! - [`extract`]: usage read off raw provider responses and streams.
//! - [`ledger`]: exactly-once ingest, plans, outcomes and live margin.
//! - [`store`]: the engine and ledger on a data directory, journaled, recovered after a crash.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod engine;
pub mod event;
pub mod extract;
mod json_text;
pub mod ledger;
mod lookup;
pub mod money;
mod namehash;
mod pricing;
pub mod ratecard;
pub mod store;
#[cfg(any(test, feature = "test-hooks"))]
pub mod test_hooks;
pub mod usage;
