//! Usage extraction from raw provider responses and streams (SPEC §5).
