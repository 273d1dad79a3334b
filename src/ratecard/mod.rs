//! Rate card: the LiteLLM registry parsed exactly, validated, as immutable snapshots (SPEC §3).
