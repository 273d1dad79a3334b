//! Real usage is never dropped: where a provider counts the same tokens in two buckets (the
//! parts then exceed their whole), every bucket is kept as reported, no count goes
//! negative, and the line item carries a warning. One case per provider path that
//! subtracts.

use tollgate_engine::event::Event;
use tollgate_engine::extract::{Accumulator, LineItem, Provider, extract};

/// The whole body and the body fed one byte at a time give the same line items.
fn items(provider: Provider, model: Option<&str>, body: &[u8]) -> Vec<LineItem> {
    let whole = extract(provider, model, body).unwrap_or_else(|e| panic!("{e} [{}]", e.kind()));
    let mut acc = Accumulator::new(provider, model).unwrap();
    for b in body.chunks(1) {
        acc.feed(b).unwrap();
    }
    assert_eq!(
        acc.finish().unwrap(),
        whole,
        "1-byte chunks differ from whole"
    );
    whole
}

/// (tokensIn, cachedTokens, cacheWrite5mTokens, cacheWrite1hTokens, tokensOut)
fn counts(li: &LineItem) -> (u64, u64, u64, u64, u64) {
    let u = &li.usage;
    (
        u.tokens_in,
        u.cached_tokens,
        u.cache_write_5m_tokens,
        u.cache_write_1h_tokens,
        u.tokens_out,
    )
}

/// Gemini 2.5 Flash through OpenRouter, as OpenRouter returned it: the 2161 cached tokens
/// are also reported as written.
const OPENROUTER_GEMINI: &str = r#"{"id":"gen-1765000000-abc","provider":"Google","model":"google/gemini-2.5-flash","object":"chat.completion","created":1765000000,
 "choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"ok"}}],
 "usage":{"prompt_tokens":2168,"completion_tokens":12,"total_tokens":2180,"cost":0.00027701333,"is_byok":false,
  "prompt_tokens_details":{"cached_tokens":2161,"cache_write_tokens":2161,"audio_tokens":0,"video_tokens":0},
  "cost_details":{"upstream_inference_cost":0.00027701333,"upstream_inference_prompt_cost":0.00024701333,"upstream_inference_completions_cost":0.00003},
  "completion_tokens_details":{"reasoning_tokens":0,"image_tokens":0}}}"#;

#[test]
fn openrouter_tokens_reported_both_cached_and_written_are_kept_with_a_warning() {
    let items = items(
        Provider::OpenAiCompatible,
        None,
        OPENROUTER_GEMINI.as_bytes(),
    );
    assert_eq!(items.len(), 1);
    let li = &items[0];
    // Fresh input = prompt − cached = 2168 − 2161 = 7; reads and writes both 2161.
    assert_eq!(counts(li), (7, 2161, 2161, 0, 12));
    assert_eq!(li.warnings.len(), 1, "{:?}", li.warnings);
    assert!(
        li.warnings[0].contains(
            "usage.prompt_tokens (2168) is smaller than cached + cache-write tokens (2161 + 2161)"
        ) && li.warnings[0].contains("fresh input is 7"),
        "{}",
        li.warnings[0]
    );
    // OpenRouter's stated prompt cost confirms the mapping: Gemini 2.5 Flash input
    // $0.30/M, cache reads $0.03/M, cache storage $1/M per hour (five minutes = 1/12 of it):
    // 7 × 0.30 + 2161 × 0.03 + 2161 × 1/12 = 247.01333… $/M = $0.00024701333.
    // In units of 10^-12 USD, times 12 to stay in integers:
    let twelfths = 12 * (li.usage.tokens_in * 300_000 + li.usage.cached_tokens * 30_000)
        + li.usage.cache_write_5m_tokens * 1_000_000;
    assert_eq!(twelfths / 12 / 10, 24_701_333); // $0.00024701333, OpenRouter's figure
    // The line item, with a customer, is a valid event carrying the same counts.
    let json = li.to_json();
    let event = format!("{{\"customerId\":\"c1\",{}", &json[1..]);
    let e = Event::from_json(event.as_bytes()).unwrap_or_else(|err| panic!("{err}: {json}"));
    assert_eq!(e.usage, li.usage);
}

#[test]
fn openrouter_stream_of_the_same_usage_is_kept_too() {
    let chunk = r#"{"id":"gen-1","model":"google/gemini-2.5-flash","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":null}]}"#;
    let last = r#"{"id":"gen-1","model":"google/gemini-2.5-flash","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":2168,"completion_tokens":12,"total_tokens":2180,"prompt_tokens_details":{"cached_tokens":2161,"cache_write_tokens":2161}}}"#;
    let body =
        format!(": OPENROUTER PROCESSING\n\ndata: {chunk}\n\ndata: {last}\n\ndata: [DONE]\n\n");
    let items = items(Provider::OpenAiCompatible, None, body.as_bytes());
    assert_eq!(counts(&items[0]), (7, 2161, 2161, 0, 12));
    assert_eq!(items[0].warnings.len(), 1);
}

#[test]
fn openrouter_responses_endpoint_same_shape() {
    let body = br#"{"id":"resp_1","object":"response","model":"google/gemini-2.5-flash","status":"completed","output":[],
      "usage":{"input_tokens":2168,"output_tokens":12,"total_tokens":2180,
      "input_tokens_details":{"cached_tokens":2161,"cache_write_tokens":2161},"output_tokens_details":{"reasoning_tokens":0}}}"#;
    let items = items(Provider::OpenAiCompatible, None, body);
    assert_eq!(counts(&items[0]), (7, 2161, 2161, 0, 12));
    assert!(
        items[0].warnings[0].contains("usage.input_tokens (2168)"),
        "{:?}",
        items[0].warnings
    );
}

#[test]
fn more_cached_than_prompt_tokens_keeps_both_and_zero_fresh_input() {
    let body = br#"{"model":"m","usage":{"prompt_tokens":10,"completion_tokens":1,"prompt_tokens_details":{"cached_tokens":11}}}"#;
    let items = items(Provider::OpenAi, None, body);
    assert_eq!(counts(&items[0]), (0, 11, 0, 0, 1));
    assert_eq!(
        items[0].warnings,
        [
            "inconsistent usage: usage.prompt_tokens (10) is smaller than the cached tokens (11); every count is kept as reported and the fresh input is taken as 0"
        ]
    );
}

#[test]
fn consistent_usage_has_no_warning() {
    // 3329 = 3 fresh + 3211 cached + 115 written (OpenRouter, Anthropic model).
    let body = br#"{"model":"anthropic/claude-sonnet-4.5","usage":{"prompt_tokens":3329,"completion_tokens":53,
      "prompt_tokens_details":{"cached_tokens":3211,"cache_write_tokens":115}}}"#;
    let items = items(Provider::OpenAiCompatible, None, body);
    assert_eq!(counts(&items[0]), (3, 3211, 115, 0, 53));
    assert!(items[0].warnings.is_empty());
}

#[test]
fn gemini_cached_content_larger_than_the_prompt_is_kept() {
    let body = br#"{"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"STOP"}],"modelVersion":"gemini-2.5-flash",
      "usageMetadata":{"promptTokenCount":100,"cachedContentTokenCount":120,"candidatesTokenCount":5,"totalTokenCount":105,
        "promptTokensDetails":[{"modality":"AUDIO","tokenCount":10}],"cacheTokensDetails":[{"modality":"AUDIO","tokenCount":12}]}}"#;
    let items = items(Provider::Gemini, None, body);
    let u = &items[0].usage;
    assert_eq!(
        (
            u.tokens_in,
            u.cached_tokens,
            u.audio_tokens_in,
            u.tokens_out
        ),
        (0, 120, 0, 5)
    );
    assert_eq!(items[0].warnings.len(), 2, "{:?}", items[0].warnings);
    assert!(items[0].warnings[0].contains("promptTokenCount + toolUsePromptTokenCount (100) is smaller than cachedContentTokenCount (120)"));
    assert!(
        items[0].warnings[1]
            .contains("prompt AUDIO tokens (10) is smaller than cached AUDIO tokens (12)")
    );
}

#[test]
fn anthropic_one_hour_writes_larger_than_the_write_total_are_kept() {
    let body = br#"{"id":"msg_1","type":"message","model":"claude-sonnet-4-5","content":[],
      "usage":{"input_tokens":3,"cache_read_input_tokens":0,"cache_creation_input_tokens":100,
        "cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":150},"output_tokens":7}}"#;
    let items = items(Provider::Anthropic, None, body);
    assert_eq!(counts(&items[0]), (3, 0, 0, 150, 7));
    assert!(items[0].warnings[0].contains(
        "usage.cache_creation_input_tokens (100) is smaller than usage.cache_creation.ephemeral_1h_input_tokens (150)"
    ), "{:?}", items[0].warnings);
}

#[test]
fn anthropic_iteration_with_the_same_inconsistency_is_kept() {
    let body = br#"{"id":"msg_1","type":"message","model":"claude-sonnet-4-5","content":[],
      "usage":{"input_tokens":3,"output_tokens":7,"iterations":[
        {"type":"message","input_tokens":3,"output_tokens":7,"cache_creation_input_tokens":10,
         "cache_creation":{"ephemeral_1h_input_tokens":15}}]}}"#;
    let items = items(Provider::Anthropic, None, body);
    assert_eq!(counts(&items[0]), (3, 0, 0, 15, 7));
    assert!(
        items[0].warnings[0].contains("usage.iterations[0].cache_creation_input_tokens (10)"),
        "{:?}",
        items[0].warnings
    );
}

#[test]
fn bedrock_cache_details_larger_than_the_write_total_are_kept() {
    let body = br#"{"output":{"message":{"content":[{"text":"x"}]}},"usage":{"inputTokens":10,"outputTokens":5,
      "cacheWriteInputTokens":100,"cacheDetails":[{"inputTokens":200,"ttl":"1h"}]}}"#;
    let items = items(Provider::Bedrock, Some("br-model"), body);
    assert_eq!(counts(&items[0]), (10, 0, 0, 200, 5));
    assert!(
        items[0].warnings[0].contains("usage.cacheWriteInputTokens (100) is smaller than"),
        "{:?}",
        items[0].warnings
    );
}
