//! The ledger: idempotent ingest, customers and plans, runs and outcomes, margin, state (SPEC §6).
