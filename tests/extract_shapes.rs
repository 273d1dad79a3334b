//! Hand-written responses, one per provider shape, with the expected counts worked out from
//! docs/reference/events.md (usage) / docs/reference/extraction.md in the comments. Each is also fed in 3-byte chunks to exercise the streaming
//! path.

use tollgate_engine::event::Event;
use tollgate_engine::extract::{Accumulator, LineItem, Provider, extract};
use tollgate_engine::usage::ServiceTier;

fn whole_and_chunked(provider: Provider, model: Option<&str>, body: &[u8]) -> Vec<LineItem> {
    let whole = extract(provider, model, body).unwrap_or_else(|e| panic!("{e} [{}]", e.kind()));
    let mut acc = Accumulator::new(provider, model).unwrap();
    for c in body.chunks(3) {
        acc.feed(c).unwrap();
    }
    assert_eq!(
        acc.finish().unwrap(),
        whole,
        "3-byte chunks differ from whole"
    );
    whole
}

/// One `data:` line per event (line breaks inside the JSON become spaces: SSE data lines
/// cannot hold them).
fn sse(events: &[&str]) -> Vec<u8> {
    let mut s = String::new();
    for e in events {
        s.push_str("data: ");
        s.push_str(&e.replace('\n', " "));
        s.push_str("\n\n");
    }
    s.into_bytes()
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

/// A line item's JSON plus a customer id is a valid event carrying the same usage.
fn assert_pipeable(li: &LineItem) {
    let json = li.to_json();
    let with_customer = format!("{{\"customerId\":\"c1\",{}", &json[1..]);
    let e = Event::from_json(with_customer.as_bytes())
        .unwrap_or_else(|err| panic!("line item is not a valid event: {err}\n{json}"));
    assert_eq!(e.usage, li.usage);
    assert_eq!(e.model.as_deref(), Some(li.model.as_str()));
    assert_eq!(e.response_id, li.response_id);
    assert_eq!(e.reported_cost_cents, li.reported_cost_cents);
}

#[test]
fn openai_chat_body_splits_cache_reads_and_writes_out_of_prompt() {
    let body = br#"{"id":"chatcmpl-9","object":"chat.completion","model":"gpt-4o-2024-08-06",
      "choices":[{"message":{"role":"assistant","content":"hello"}}],
      "service_tier":"flex",
      "usage":{"prompt_tokens":1000,"completion_tokens":300,
        "prompt_tokens_details":{"cached_tokens":600,"cache_write_tokens":100,"audio_tokens":50},
        "completion_tokens_details":{"reasoning_tokens":120,"audio_tokens":10}}}"#;
    let items = whole_and_chunked(Provider::OpenAi, None, body);
    assert_eq!(items.len(), 1);
    let li = &items[0];
    // tokensIn = prompt − cached − written = 1000 − 600 − 100 = 300; output includes reasoning.
    assert_eq!(counts(li), (300, 600, 100, 0, 300));
    assert_eq!(li.usage.reasoning_tokens, 120);
    assert!(li.reasoning_reported);
    assert_eq!(
        (li.usage.audio_tokens_in, li.usage.audio_tokens_out),
        (50, 10)
    );
    assert_eq!(li.served_tier, Some(ServiceTier::Flex));
    assert_eq!(li.usage.service_tier, ServiceTier::Flex);
    assert_eq!(li.model, "gpt-4o-2024-08-06");
    assert_eq!(li.response_id.as_deref(), Some("chatcmpl-9"));
    assert_pipeable(li);
}

#[test]
fn openai_chat_stream_takes_the_last_non_null_usage() {
    // vLLM-style: the usage chunk is repeated; Azure-style: an early chunk with empty model.
    let body = sse(&[
        r#"{"id":"","model":"","choices":[],"prompt_filter_results":[]}"#,
        r#"{"id":"c1","model":"m-1","choices":[{"delta":{"content":"Hi"}}],"usage":null}"#,
        r#"{"id":"c1","model":"m-1","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":2}}"#,
        r#"{"id":"c1","model":"m-1","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5}}"#,
        "[DONE]",
    ]);
    let items = whole_and_chunked(Provider::OpenAiCompatible, None, &body);
    // Last usage wins: 10 in, 5 out (not 2, not 7). No details → reasoning not reported.
    assert_eq!(counts(&items[0]), (10, 0, 0, 0, 5));
    assert!(!items[0].reasoning_reported);
    assert_eq!(items[0].model, "m-1");
    assert_eq!(items[0].provider, Provider::OpenAiCompatible);
}

#[test]
fn groq_usage_under_x_groq_is_read() {
    let body = sse(&[
        r#"{"id":"c2","model":"llama-3.3-70b-versatile","choices":[{"delta":{"content":"a"}}]}"#,
        r#"{"id":"c2","model":"llama-3.3-70b-versatile","choices":[{"delta":{},"finish_reason":"stop"}],"x_groq":{"id":"req_1","usage":{"prompt_tokens":336,"completion_tokens":96,"prompt_tokens_details":{"cached_tokens":256}}}}"#,
        "[DONE]",
    ]);
    let items = whole_and_chunked(Provider::OpenAiCompatible, None, &body);
    // 336 − 256 = 80 fresh.
    assert_eq!(counts(&items[0]), (80, 256, 0, 0, 96));
}

#[test]
fn deepseek_cache_hits_come_from_prompt_cache_hit_tokens() {
    let body = br#"{"id":"d1","model":"deepseek-chat","choices":[],
      "usage":{"prompt_tokens":500,"completion_tokens":40,"prompt_cache_hit_tokens":300,
        "prompt_cache_miss_tokens":200,"prompt_tokens_details":{"cached_tokens":0}}}"#;
    let items = whole_and_chunked(Provider::OpenAiCompatible, None, body);
    // 500 − 300 hits = 200 = prompt_cache_miss_tokens.
    assert_eq!(counts(&items[0]), (200, 300, 0, 0, 40));
}

#[test]
fn openrouter_cost_is_converted_to_cents_exactly() {
    let body = br#"{"id":"gen-1","model":"openai/gpt-5-mini","provider":"OpenAI","choices":[],
      "usage":{"prompt_tokens":17,"completion_tokens":2177,"cost":4.25e-06,
        "completion_tokens_details":{"reasoning_tokens":960}}}"#;
    let items = whole_and_chunked(Provider::OpenAiCompatible, None, body);
    // $4.25e-06 × 100 = 0.000425 cents, from the literal (never a float).
    assert_eq!(
        items[0]
            .reported_cost_cents
            .map(|c| c.to_string())
            .as_deref(),
        Some("0.000425")
    );
    assert!(
        items[0]
            .to_json()
            .contains(r#""reportedCostCents":"0.000425""#)
    );
    assert_pipeable(&items[0]);
    let body = br#"{"id":"gen-2","model":"x/y","choices":[],
      "usage":{"prompt_tokens":1,"completion_tokens":1,"cost":0.1}}"#;
    // $0.1 = 10 cents exactly (0.1 is not representable as a binary float).
    assert_eq!(
        extract(Provider::OpenAiCompatible, None, body).unwrap()[0]
            .reported_cost_cents
            .map(|c| c.to_string())
            .as_deref(),
        Some("10")
    );
}

#[test]
fn openai_responses_body_and_web_search() {
    let body = br#"{"id":"resp_1","object":"response","model":"gpt-5","status":"completed",
      "output":[{"type":"message","content":[{"type":"output_text","text":"ok"}]}],
      "service_tier":"priority","tool_usage":{"web_search":{"num_requests":2}},
      "usage":{"input_tokens":4020,"input_tokens_details":{"cached_tokens":4000,"cache_write_tokens":12},
        "output_tokens":1915,"output_tokens_details":{"reasoning_tokens":1600},"total_tokens":5935}}"#;
    let items = whole_and_chunked(Provider::OpenAi, None, body);
    // 4020 − 4000 − 12 = 8 fresh.
    assert_eq!(counts(&items[0]), (8, 4000, 12, 0, 1915));
    assert_eq!(items[0].usage.reasoning_tokens, 1600);
    assert_eq!(items[0].usage.web_search_requests, 2);
    assert_eq!(items[0].served_tier, Some(ServiceTier::Priority));
    assert_pipeable(&items[0]);
}

#[test]
fn openai_responses_stream_reads_the_final_response_event() {
    let mut body = Vec::new();
    for (name, data) in [
        (
            "response.created",
            r#"{"type":"response.created","response":{"id":"resp_2","model":"gpt-5","service_tier":"auto","usage":null}}"#,
        ),
        (
            "response.output_text.delta",
            r#"{"type":"response.output_text.delta","delta":"Hello"}"#,
        ),
        (
            "response.incomplete",
            r#"{"type":"response.incomplete","response":{"id":"resp_2","model":"gpt-5-2025-08-07","service_tier":"flex","output":[{"type":"message","content":[{"text":"Hello"}]}],"usage":{"input_tokens":53,"input_tokens_details":{"cached_tokens":0},"output_tokens":469,"output_tokens_details":{"reasoning_tokens":448}}}}"#,
        ),
    ] {
        body.extend_from_slice(format!("event: {name}\r\ndata: {data}\r\n\r\n").as_bytes());
    }
    let items = whole_and_chunked(Provider::OpenAi, None, &body);
    // Usage from the terminal event (an incomplete response is still billed).
    assert_eq!(counts(&items[0]), (53, 0, 0, 0, 469));
    assert_eq!(items[0].usage.reasoning_tokens, 448);
    // The served tier is the final one (flex), not the requested "auto".
    assert_eq!(items[0].served_tier, Some(ServiceTier::Flex));
    assert_eq!(items[0].model, "gpt-5-2025-08-07");
}

#[test]
fn anthropic_body_with_one_hour_cache_web_search_and_attributes() {
    let body = br#"{"id":"msg_1","type":"message","model":"claude-opus-4-6","role":"assistant",
      "content":[{"type":"text","text":"x"}],
      "usage":{"input_tokens":12,"cache_read_input_tokens":7000,"cache_creation_input_tokens":1500,
        "cache_creation":{"ephemeral_5m_input_tokens":500,"ephemeral_1h_input_tokens":1000},
        "output_tokens":640,"server_tool_use":{"web_search_requests":3,"web_fetch_requests":1},
        "service_tier":"priority","inference_geo":"us","speed":"fast"}}"#;
    let items = whole_and_chunked(Provider::Anthropic, None, body);
    // input_tokens excludes the cache: 12 fresh. Writes 1500 = 500 (5m) + 1000 (1h).
    assert_eq!(counts(&items[0]), (12, 7000, 500, 1000, 640));
    assert_eq!(items[0].usage.web_search_requests, 3);
    assert!(!items[0].reasoning_reported);
    assert_eq!(items[0].served_tier, Some(ServiceTier::Priority));
    assert_eq!(items[0].usage.inference_geo.as_deref(), Some("us"));
    assert_eq!(items[0].usage.speed.as_deref(), Some("fast"));
    assert_pipeable(&items[0]);
}

#[test]
fn anthropic_cache_write_without_breakdown_is_default_ttl() {
    let body = br#"{"id":"msg_2","type":"message","model":"claude-haiku-4-5",
      "usage":{"input_tokens":3,"cache_creation_input_tokens":1956,"output_tokens":44}}"#;
    let items = whole_and_chunked(Provider::Anthropic, None, body);
    assert_eq!(counts(&items[0]), (3, 0, 1956, 0, 44));
}

#[test]
fn anthropic_stream_message_delta_replaces_never_adds() {
    let body = sse(&[
        r#"{"type":"message_start","message":{"id":"msg_3","model":"claude-sonnet-4-5","usage":{"input_tokens":43,"cache_read_input_tokens":10,"output_tokens":1}}}"#,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}"#,
        r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"input_tokens":50,"output_tokens":282}}"#,
        r#"{"type":"message_stop"}"#,
    ]);
    let items = whole_and_chunked(Provider::Anthropic, None, &body);
    // input 43 → 50 (replaced), cache read 10 kept (absent from the delta), output 1 → 282
    // (replaced, not 283).
    assert_eq!(counts(&items[0]), (50, 10, 0, 0, 282));
    assert_eq!(items[0].response_id.as_deref(), Some("msg_3"));
}

#[test]
fn anthropic_compaction_iterations_are_summed_on_the_response_model() {
    let body = sse(&[
        r#"{"type":"message_start","message":{"id":"msg_4","model":"claude-sonnet-4-6","usage":{"input_tokens":100,"cache_read_input_tokens":5000,"output_tokens":7}}}"#,
        r#"{"type":"message_delta","usage":{"input_tokens":200,"cache_read_input_tokens":0,"output_tokens":10,"iterations":[
            {"type":"compaction","input_tokens":100,"output_tokens":80,"cache_read_input_tokens":5000,"cache_creation_input_tokens":0},
            {"type":"message","input_tokens":200,"output_tokens":10,"cache_read_input_tokens":0,"cache_creation_input_tokens":30,"cache_creation":{"ephemeral_5m_input_tokens":30,"ephemeral_1h_input_tokens":0}}]}}"#,
    ]);
    let items = whole_and_chunked(Provider::Anthropic, None, &body);
    assert_eq!(items.len(), 1);
    // Sum over compaction + message: in 100 + 200 = 300, read 5000 + 0, write 0 + 30,
    // out 80 + 10 = 90 (the top-level usage counts the message iteration only).
    assert_eq!(counts(&items[0]), (300, 5000, 30, 0, 90));
    assert_eq!(items[0].model, "claude-sonnet-4-6");
}

#[test]
fn anthropic_advisor_iterations_are_separate_line_items() {
    let body = br#"{"id":"msg_5","type":"message","model":"claude-sonnet-5",
      "usage":{"input_tokens":2411,"output_tokens":145,"output_tokens_details":{"thinking_tokens":47},
       "iterations":[
        {"type":"message","input_tokens":1128,"output_tokens":135},
        {"type":"advisor_message","model":"claude-opus-4-8","input_tokens":2543,"output_tokens":18,"cache_read_input_tokens":100},
        {"type":"message","input_tokens":1283,"output_tokens":10},
        {"type":"advisor_message","model":"claude-opus-4-8","input_tokens":2700,"output_tokens":9,
         "cache_creation_input_tokens":64,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":64}}]}}"#;
    let items = whole_and_chunked(Provider::Anthropic, None, body);
    assert_eq!(items.len(), 3);
    // Executor: 1128 + 1283 = 2411 in, 135 + 10 = 145 out; thinking 47 is its breakdown.
    assert_eq!(counts(&items[0]), (2411, 0, 0, 0, 145));
    assert_eq!(items[0].usage.reasoning_tokens, 47);
    assert_eq!(items[0].model, "claude-sonnet-5");
    assert_eq!(items[0].response_id.as_deref(), Some("msg_5"));
    // Each advisor iteration on its own model, with its own id.
    assert_eq!(counts(&items[1]), (2543, 100, 0, 0, 18));
    assert_eq!(items[1].model, "claude-opus-4-8");
    assert_eq!(items[1].response_id.as_deref(), Some("msg_5#2"));
    assert!(!items[1].reasoning_reported);
    assert_eq!(counts(&items[2]), (2700, 0, 0, 64, 9));
    assert_eq!(items[2].response_id.as_deref(), Some("msg_5#3"));
    for li in &items {
        assert_pipeable(li);
    }
}

#[test]
fn bedrock_converse_cache_details_split_the_writes() {
    let body = br#"{"output":{"message":{"role":"assistant","content":[{"text":"21"}]}},
      "stopReason":"end_turn","serviceTier":{"type":"flex"},
      "usage":{"inputTokens":2,"outputTokens":5,"cacheReadInputTokens":100,"cacheWriteInputTokens":1500,
        "cacheDetails":[{"ttl":"5m","inputTokens":500},{"ttl":"1h","inputTokens":1000}],"totalTokens":1607}}"#;
    let m = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
    let items = whole_and_chunked(Provider::Bedrock, Some(m), body);
    // inputTokens excludes the cache; 1500 writes = 500 (5m) + 1000 (1h).
    assert_eq!(counts(&items[0]), (2, 100, 500, 1000, 5));
    assert_eq!(items[0].model, m);
    assert_eq!(items[0].response_id, None);
    assert_eq!(items[0].served_tier, Some(ServiceTier::Flex));
    assert_pipeable(&items[0]);
}

#[test]
fn bedrock_conversestream_sdk_events_as_json_lines() {
    let body = b"{\"messageStart\":{\"role\":\"assistant\"}}\n\
{\"contentBlockDelta\":{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hi\"}}}\n\
{\"messageStop\":{\"stopReason\":\"end_turn\"}}\n\
{\"metadata\":{\"usage\":{\"inputTokens\":51,\"outputTokens\":94,\"cacheReadInputTokenCount\":7,\"totalTokens\":152},\"metrics\":{\"latencyMs\":2281}}}\n";
    let items = whole_and_chunked(Provider::Bedrock, Some("anthropic.claude-3-7-sonnet"), body);
    // The *Count alias of the cache-read field is accepted.
    assert_eq!(counts(&items[0]), (51, 7, 0, 0, 94));
}

/// Builds one AWS event-stream message with correct CRCs.
fn frame(event_type: &str, message_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut headers = Vec::new();
    for (name, value) in [
        (":event-type", event_type),
        (":content-type", "application/json"),
        (":message-type", message_type),
    ] {
        headers.push(name.len() as u8);
        headers.extend_from_slice(name.as_bytes());
        headers.push(7);
        headers.extend_from_slice(&(value.len() as u16).to_be_bytes());
        headers.extend_from_slice(value.as_bytes());
    }
    let total = 12 + headers.len() + payload.len() + 4;
    let mut m = Vec::new();
    m.extend_from_slice(&(total as u32).to_be_bytes());
    m.extend_from_slice(&(headers.len() as u32).to_be_bytes());
    let prelude_crc = crc32fast::hash(&m);
    m.extend_from_slice(&prelude_crc.to_be_bytes());
    m.extend_from_slice(&headers);
    m.extend_from_slice(payload);
    let crc = crc32fast::hash(&m);
    m.extend_from_slice(&crc.to_be_bytes());
    m
}

#[test]
fn bedrock_raw_event_stream_reads_the_metadata_event() {
    let mut body = frame("messageStart", "event", br#"{"role":"assistant"}"#);
    body.extend(frame(
        "contentBlockDelta",
        "event",
        br#"{"contentBlockIndex":0,"delta":{"text":"Paris"}}"#,
    ));
    body.extend(frame(
        "metadata",
        "event",
        br#"{"metrics":{"latencyMs":522},"usage":{"inputTokens":13,"outputTokens":82,"cacheWriteInputTokens":9,"cacheDetails":[{"ttl":"1h","inputTokens":9}]}}"#,
    ));
    let items = whole_and_chunked(Provider::Bedrock, Some("us.amazon.nova-micro-v1:0"), &body);
    // 9 writes, all 1h by cacheDetails.
    assert_eq!(counts(&items[0]), (13, 0, 0, 9, 82));
}

#[test]
fn gemini_tool_use_prompt_tokens_are_added_and_thoughts_added_to_output() {
    let body = br#"{"candidates":[{"content":{"parts":[{"text":"x"}],"role":"model"},"finishReason":"STOP"}],
      "modelVersion":"gemini-2.5-pro","responseId":"r-1",
      "usageMetadata":{"promptTokenCount":1000,"cachedContentTokenCount":300,"toolUsePromptTokenCount":40,
        "candidatesTokenCount":100,"thoughtsTokenCount":60,"totalTokenCount":1200,
        "promptTokensDetails":[{"modality":"TEXT","tokenCount":800},{"modality":"AUDIO","tokenCount":200}],
        "cacheTokensDetails":[{"modality":"TEXT","tokenCount":250},{"modality":"AUDIO","tokenCount":50}],
        "candidatesTokensDetails":[{"modality":"IMAGE","tokenCount":30}]}}"#;
    let items = whole_and_chunked(Provider::Gemini, None, body);
    // tokensIn = prompt + toolUse − cached = 1000 + 40 − 300 = 740;
    // tokensOut = candidates + thoughts = 100 + 60 = 160;
    // fresh audio in = 200 − 50 cached = 150; image out 30.
    assert_eq!(counts(&items[0]), (740, 300, 0, 0, 160));
    assert_eq!(items[0].usage.reasoning_tokens, 60);
    assert_eq!(items[0].usage.audio_tokens_in, 150);
    assert_eq!(items[0].usage.image_tokens_out, 30);
    assert_eq!(items[0].response_id.as_deref(), Some("r-1"));
    assert_pipeable(&items[0]);
}

#[test]
fn gemini_array_stream_uses_the_last_cumulative_usage() {
    // streamGenerateContent without alt=sse: one JSON array of chunks.
    let body = br#"[{"candidates":[{"content":{"parts":[{"text":"Hel"}]}}],"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":2},"modelVersion":"gemini-2.0-flash"}
,{"candidates":[{"content":{"parts":[{"text":"lo"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":5,"totalTokenCount":14},"modelVersion":"gemini-2.0-flash"}]"#;
    let items = whole_and_chunked(Provider::Gemini, None, body);
    // Cumulative: the last chunk (5 out), not 2 + 5. No thoughts → reasoning not reported.
    assert_eq!(counts(&items[0]), (9, 0, 0, 0, 5));
    assert!(!items[0].reasoning_reported);
}

#[test]
fn unknown_served_tier_reads_as_default_with_a_warning() {
    let body = br#"{"id":"c","model":"m","choices":[],"service_tier":"scale",
      "usage":{"prompt_tokens":1,"completion_tokens":1}}"#;
    let items = extract(Provider::OpenAi, None, body).unwrap();
    assert_eq!(items[0].served_tier, Some(ServiceTier::Standard));
    assert_eq!(
        items[0].warnings,
        vec!["unrecognised service tier \"scale\" read as default".to_string()]
    );
    // Groq's on_demand is its default tier: no warning.
    let body = br#"{"id":"c","model":"m","choices":[],"service_tier":"on_demand",
      "usage":{"prompt_tokens":1,"completion_tokens":1}}"#;
    assert!(
        extract(Provider::OpenAiCompatible, None, body).unwrap()[0]
            .warnings
            .is_empty()
    );
}

#[test]
fn request_model_fills_in_only_when_the_response_names_none() {
    let named = br#"{"id":"c","model":"gpt-4o-2024-08-06","usage":{"prompt_tokens":1,"completion_tokens":1}}"#;
    assert_eq!(
        extract(Provider::OpenAi, Some("gpt-4o"), named).unwrap()[0].model,
        "gpt-4o-2024-08-06"
    );
    let unnamed = br#"{"id":"c","usage":{"prompt_tokens":1,"completion_tokens":1}}"#;
    assert_eq!(
        extract(Provider::OpenAi, Some("my-vllm-model"), unnamed).unwrap()[0].model,
        "my-vllm-model"
    );
}

#[test]
fn accumulator_and_line_items_can_move_between_threads() {
    // The C ABI and SDKs hand an accumulator from one worker thread to another.
    fn assert_send<T: Send + 'static>() {}
    assert_send::<Accumulator>();
    assert_send::<LineItem>();
    assert_send::<tollgate_engine::extract::ExtractError>();
}

#[test]
fn memory_stays_bounded_whatever_the_content_length() {
    // 64 MiB of content in one Responses body (limits raised above the 16 MiB default: they
    // are counted, not allocated), fed in ~80 KiB reads: the accumulator keeps only a few KiB
    // (usage values, ids, the scanner's small stack).
    let limits = tollgate_engine::extract::Limits {
        max_line_bytes: 1 << 30,
        max_event_bytes: 1 << 30,
    };
    let mut acc = Accumulator::with_limits(Provider::OpenAi, None, limits).unwrap();
    acc.feed(br#"{"id":"resp_big","object":"response","model":"gpt-5","output":[{"type":"message","content":[{"type":"output_text","text":""#).unwrap();
    let filler = r"lorem ipsum dolor sit amet \u00e9 \\ é ".repeat(2048);
    let mut peak = 0;
    let mut fed = 0usize;
    while fed < 64 << 20 {
        acc.feed(filler.as_bytes()).unwrap();
        fed += filler.len();
        peak = peak.max(acc.buffered_bytes());
    }
    acc.feed(br#""}]}],"usage":{"input_tokens":5,"output_tokens":16000000}}"#)
        .unwrap();
    peak = peak.max(acc.buffered_bytes());
    assert!(peak < 8 * 1024, "peak buffered bytes {peak}");
    let items = acc.finish().unwrap();
    assert_eq!(items[0].usage.tokens_out, 16_000_000);

    // The same for a stream of 100,000 SSE events.
    let mut acc = Accumulator::new(Provider::Anthropic, None).unwrap();
    acc.feed(b"data: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"claude\",\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n").unwrap();
    let event = b"data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"more words here\"}}\n\n";
    let mut peak = 0;
    for _ in 0..100_000 {
        acc.feed(event).unwrap();
        peak = peak.max(acc.buffered_bytes());
    }
    acc.feed(b"data: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":300000}}\n\n")
        .unwrap();
    assert!(peak < 8 * 1024, "peak buffered bytes {peak}");
    assert_eq!(acc.finish().unwrap()[0].usage.tokens_out, 300_000);
}

#[test]
fn byte_order_mark_and_leading_blank_lines_are_skipped() {
    let mut body = b"\xEF\xBB\xBF\r\n  ".to_vec();
    body.extend_from_slice(
        br#"{"id":"c","model":"m","usage":{"prompt_tokens":7,"completion_tokens":2}}"#,
    );
    let items = whole_and_chunked(Provider::OpenAi, None, &body);
    assert_eq!(counts(&items[0]), (7, 0, 0, 0, 2));
}

#[test]
fn sse_with_bare_carriage_return_line_ends() {
    // SSE allows CR alone as a line end; a comment line first, then an event.
    let body = b": keep-alive\r\rdata: {\"id\":\"c\",\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":1}}\r\rdata: [DONE]\r\r";
    let items = whole_and_chunked(Provider::OpenAi, None, body);
    assert_eq!(counts(&items[0]), (4, 0, 0, 0, 1));
}
