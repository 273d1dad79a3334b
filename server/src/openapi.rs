//! The OpenAPI 3.1 document of the whole HTTP surface — the product API (`/api`), our own
//! (`/v1`) and the ops endpoints — served verbatim at `GET /openapi.json`.
//!
//! It is kept by hand in `server/openapi/openapi.json`; `server/tests/v1_openapi.rs` checks that
//! every route the router serves is in it and every operation in it is served, and that its
//! examples and the live responses of the `/v1` tests validate against its schemas.

/// The document (JSON text).
pub const DOCUMENT: &str = include_str!("../openapi/openapi.json");
