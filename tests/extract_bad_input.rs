//! Bad input: one test per case, each asserting the precise error kind (and where it makes
//! sense, the offset and the words of the message).

use tollgate_engine::extract::{Accumulator, ErrorKind, ExtractError, Limits, Provider, extract};

fn err(provider: Provider, model: Option<&str>, body: &[u8]) -> ExtractError {
    match extract(provider, model, body) {
        Ok(items) => panic!("expected an error, got {items:?}"),
        Err(e) => e,
    }
}

const CHAT_OK: &str = r#"{"id":"c","model":"m","usage":{"prompt_tokens":5,"completion_tokens":1}}"#;

#[test]
fn malformed_json_names_the_byte() {
    // Missing ':' after "usage": byte 26 is the '{' where ':' belongs.
    let body = br#"{"id":"c","model":"m","usage"{"prompt_tokens":5}}"#;
    let e = err(Provider::OpenAi, None, body);
    assert_eq!(e.kind(), ErrorKind::Malformed);
    assert_eq!(e.offset(), Some(29));
    assert!(e.message().contains("expected ':'"), "{e}");
}

#[test]
fn trailing_comma_is_malformed() {
    let e = err(Provider::OpenAi, None, br#"{"usage":{"prompt_tokens":5,}}"#);
    assert_eq!(e.kind(), ErrorKind::Malformed);
}

#[test]
fn top_level_scalar_is_not_a_payload() {
    let e = err(Provider::OpenAi, None, b"[1, 2]");
    assert_eq!(e.kind(), ErrorKind::Malformed);
    assert!(e.message().contains("must be a JSON object"), "{e}");
}

#[test]
fn body_cut_mid_value_is_truncated() {
    let e = err(Provider::OpenAi, None, &CHAT_OK.as_bytes()[..40]);
    assert_eq!(e.kind(), ErrorKind::Truncated);
}

#[test]
fn anthropic_body_given_as_openai_is_wrong_provider() {
    let body = br#"{"id":"msg_1","type":"message","model":"claude-sonnet-4-5","usage":{"input_tokens":3,"output_tokens":4}}"#;
    let e = err(Provider::OpenAi, None, body);
    assert_eq!(e.kind(), ErrorKind::WrongProvider);
    assert!(e.message().contains("use --provider anthropic"), "{e}");
}

#[test]
fn openai_body_given_as_anthropic_is_wrong_provider() {
    let e = err(Provider::Anthropic, None, CHAT_OK.as_bytes());
    assert_eq!(e.kind(), ErrorKind::WrongProvider);
    assert!(e.message().contains("openai"), "{e}");
}

#[test]
fn gemini_body_given_as_bedrock_is_wrong_provider() {
    let body =
        br#"{"candidates":[],"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":2}}"#;
    let e = err(Provider::Bedrock, Some("m"), body);
    assert_eq!(e.kind(), ErrorKind::WrongProvider);
    assert!(e.message().contains("--provider gemini"), "{e}");
}

#[test]
fn bedrock_body_given_as_gemini_is_wrong_provider() {
    let body = br#"{"output":{},"usage":{"inputTokens":2,"outputTokens":5}}"#;
    let e = err(Provider::Gemini, None, body);
    assert_eq!(e.kind(), ErrorKind::WrongProvider);
    assert!(e.message().contains("--provider bedrock"), "{e}");
}

#[test]
fn sse_stream_cut_mid_event_is_truncated() {
    let stream = b"data: {\"id\":\"c\",\"choices\":[{\"delta\":{\"content\":\"Hel";
    let e = err(Provider::OpenAi, None, stream);
    assert_eq!(e.kind(), ErrorKind::Truncated);
    assert!(e.message().contains("middle of an event"), "{e}");
}

#[test]
fn sse_event_ended_before_its_json_is_malformed() {
    // A blank line dispatches the event while its JSON is still open.
    let stream = b"data: {\"id\":\"c\",\n\ndata: {}\n\n";
    let e = err(Provider::OpenAi, None, stream);
    assert_eq!(e.kind(), ErrorKind::Malformed);
    assert_eq!(e.offset(), Some(17));
}

#[test]
fn oversize_sse_line_is_too_large() {
    let limits = Limits {
        max_line_bytes: 64,
        max_event_bytes: 1024,
    };
    let mut acc = Accumulator::with_limits(Provider::OpenAi, None, limits).unwrap();
    let line = format!(": {}\n", "x".repeat(100));
    let e = acc.feed(line.as_bytes()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooLarge);
    assert!(e.message().contains("limit of 64 bytes"), "{e}");
}

#[test]
fn oversize_json_lines_value_is_too_large() {
    let limits = Limits {
        max_line_bytes: 1024,
        max_event_bytes: 128,
    };
    let mut acc = Accumulator::with_limits(Provider::OpenAi, None, limits).unwrap();
    let line = format!(
        "{{\"choices\":[{{\"delta\":{{\"content\":\"{}\"}}}}]}}\n",
        "x".repeat(200)
    );
    // Fed in small pieces: the limit holds however the bytes arrive.
    let e = line
        .as_bytes()
        .chunks(16)
        .find_map(|c| acc.feed(c).err())
        .expect("limit error");
    assert_eq!(e.kind(), ErrorKind::TooLarge);
    assert!(e.message().contains("limit of 128 bytes"), "{e}");
}

#[test]
fn oversize_json_lines_line_is_too_large() {
    let limits = Limits {
        max_line_bytes: 100,
        max_event_bytes: 1 << 20,
    };
    let mut acc = Accumulator::with_limits(Provider::OpenAi, None, limits).unwrap();
    let line = format!("{{\"pad\":\"{}\"}}\n", "z".repeat(150));
    let e = acc.feed(line.as_bytes()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooLarge);
    assert!(e.message().contains("limit of 100 bytes"), "{e}");
}

#[test]
fn oversize_sse_event_is_too_large() {
    let limits = Limits {
        max_line_bytes: 1 << 20,
        max_event_bytes: 100,
    };
    let mut acc = Accumulator::with_limits(Provider::OpenAi, None, limits).unwrap();
    let stream = format!("data: {{\"pad\":\"{}\"}}\n\n", "y".repeat(150));
    let e = acc.feed(stream.as_bytes()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooLarge);
}

#[test]
fn invalid_utf8_is_reported_at_its_byte() {
    let mut body = br#"{"choices":[{"message":{"content":"ab"#.to_vec();
    let at = body.len();
    body.extend_from_slice(b"\xFF\"}}],\"usage\":{\"prompt_tokens\":1}}");
    let e = err(Provider::OpenAi, Some("m"), &body);
    assert_eq!(e.kind(), ErrorKind::InvalidUtf8);
    assert_eq!(e.offset(), Some(at as u64));
}

#[test]
fn input_ending_mid_character_is_invalid_utf8() {
    // A complete SSE event, then a comment line cut inside "—" (E2 80 94).
    let mut acc = Accumulator::new(Provider::OpenAi, None).unwrap();
    acc.feed(format!("data: {CHAT_OK}\n\n: note ").as_bytes())
        .unwrap();
    acc.feed(b"\xE2\x80").unwrap();
    let e = acc.finish().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidUtf8);
}

#[test]
fn openai_stream_without_include_usage_is_no_usage() {
    let stream = b"data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: [DONE]\n\n";
    let e = err(Provider::OpenAi, None, stream);
    assert_eq!(e.kind(), ErrorKind::NoUsage);
    assert!(e.message().contains("include_usage"), "{e}");
}

#[test]
fn anthropic_stream_without_message_delta_is_no_usage() {
    let stream = b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"claude\",\"usage\":{\"input_tokens\":43,\"output_tokens\":1}}}\n\n";
    let e = err(Provider::Anthropic, None, stream);
    assert_eq!(e.kind(), ErrorKind::NoUsage);
    assert!(e.message().contains("message_delta"), "{e}");
}

#[test]
fn bedrock_stream_without_metadata_is_no_usage() {
    let stream = b"{\"messageStart\":{\"role\":\"assistant\"}}\n{\"messageStop\":{\"stopReason\":\"end_turn\"}}\n";
    let e = err(Provider::Bedrock, Some("m"), stream);
    assert_eq!(e.kind(), ErrorKind::NoUsage);
}

#[test]
fn gemini_stream_without_finish_reason_is_truncated() {
    // Content chunks carry cumulative usage too; without a finishReason it is not final.
    let stream = b"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}],\"usageMetadata\":{\"promptTokenCount\":9,\"candidatesTokenCount\":2}}\n\ndata: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"b\"}]}}],\"usageMetadata\":{\"promptTokenCount\":9,\"candidatesTokenCount\":4}}\n\n";
    let e = err(Provider::Gemini, Some("gemini-2.5-flash"), stream);
    assert_eq!(e.kind(), ErrorKind::Truncated);
}

#[test]
fn empty_input_is_no_usage() {
    let e = err(Provider::OpenAi, None, b" \n\t ");
    assert_eq!(e.kind(), ErrorKind::NoUsage);
    assert!(e.message().contains("empty"), "{e}");
}

#[test]
fn plain_text_is_unknown_format() {
    let e = err(
        Provider::OpenAi,
        None,
        b"Hello there, this is not a response",
    );
    assert_eq!(e.kind(), ErrorKind::UnknownFormat);
}

#[test]
fn binary_garbage_is_unknown_format() {
    let e = err(
        Provider::Bedrock,
        Some("m"),
        b"\x00\x00\x00\x10\x00\x00\x00\x00\x01\x02\x03\x04garbage",
    );
    assert_eq!(e.kind(), ErrorKind::UnknownFormat);
}

#[test]
fn negative_count_is_invalid_usage() {
    let e = err(
        Provider::OpenAi,
        None,
        br#"{"model":"m","usage":{"prompt_tokens":-5,"completion_tokens":1}}"#,
    );
    assert_eq!(e.kind(), ErrorKind::InvalidUsage);
    assert_eq!(
        e.message(),
        "usage.prompt_tokens must not be negative (got -5)"
    );
}

#[test]
fn fractional_count_is_invalid_usage() {
    let e = err(
        Provider::OpenAi,
        None,
        br#"{"model":"m","usage":{"prompt_tokens":5,"completion_tokens":1.5}}"#,
    );
    assert_eq!(e.kind(), ErrorKind::InvalidUsage);
    assert!(e.message().contains("whole number"), "{e}");
}

#[test]
fn count_above_2_pow_53_is_invalid_usage() {
    // 2^53 + 1 = 9007199254740993.
    let e = err(Provider::Anthropic, None, br#"{"type":"message","model":"c","usage":{"input_tokens":9007199254740993,"output_tokens":1}}"#);
    assert_eq!(e.kind(), ErrorKind::InvalidUsage);
    assert!(e.message().contains("2^53"), "{e}");
}

#[test]
fn count_given_as_string_is_invalid_usage() {
    let e = err(
        Provider::Gemini,
        Some("g"),
        br#"{"usageMetadata":{"promptTokenCount":"9"}}"#,
    );
    assert_eq!(e.kind(), ErrorKind::InvalidUsage);
    assert!(e.message().contains("not a string"), "{e}");
}

#[test]
fn usage_of_the_wrong_type_is_invalid_usage() {
    let e = err(
        Provider::OpenAi,
        None,
        br#"{"model":"m","usage":{"prompt_tokens":1,"prompt_tokens_details":[1]}}"#,
    );
    assert_eq!(e.kind(), ErrorKind::InvalidUsage);
    assert!(e.message().contains("must be a JSON object"), "{e}");
}

#[test]
fn unknown_bedrock_cache_ttl_is_invalid_usage() {
    let body = br#"{"usage":{"inputTokens":1,"outputTokens":1,"cacheWriteInputTokens":5,"cacheDetails":[{"ttl":"24h","inputTokens":5}]}}"#;
    let e = err(Provider::Bedrock, Some("m"), body);
    assert_eq!(e.kind(), ErrorKind::InvalidUsage);
    assert!(e.message().contains("ttl"), "{e}");
}

#[test]
fn bedrock_without_model_is_missing_model() {
    let body = br#"{"usage":{"inputTokens":1,"outputTokens":1}}"#;
    let e = err(Provider::Bedrock, None, body);
    assert_eq!(e.kind(), ErrorKind::MissingModel);
}

#[test]
fn response_without_model_and_no_request_model_is_missing_model() {
    let e = err(
        Provider::OpenAi,
        None,
        br#"{"usage":{"prompt_tokens":1,"completion_tokens":1}}"#,
    );
    assert_eq!(e.kind(), ErrorKind::MissingModel);
}

#[test]
fn advisor_iteration_without_model_is_missing_model() {
    let body = br#"{"type":"message","model":"c","usage":{"input_tokens":1,"output_tokens":1,"iterations":[{"type":"advisor_message","input_tokens":1,"output_tokens":1}]}}"#;
    let e = err(Provider::Anthropic, None, body);
    assert_eq!(e.kind(), ErrorKind::MissingModel);
}

#[test]
fn over_long_request_model_is_invalid_argument() {
    let e = Accumulator::new(Provider::Bedrock, Some(&"m".repeat(513))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn deep_nesting_is_too_large() {
    let body = format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200));
    let e = err(Provider::OpenAi, None, body.as_bytes());
    assert_eq!(e.kind(), ErrorKind::TooLarge);
    assert!(e.message().contains("128"), "{e}");
}

#[test]
fn anthropic_error_event_is_provider_error() {
    let stream = b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
    let e = err(Provider::Anthropic, None, stream);
    assert_eq!(e.kind(), ErrorKind::ProviderError);
    assert_eq!(
        e.message(),
        "the provider reported an error (overloaded_error) instead of usage"
    );
}

/// One AWS event-stream message with correct CRCs.
fn frame(event_type: &str, message_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut headers = Vec::new();
    let name = if message_type == "exception" {
        ":exception-type"
    } else {
        ":event-type"
    };
    for (n, v) in [(name, event_type), (":message-type", message_type)] {
        headers.push(n.len() as u8);
        headers.extend_from_slice(n.as_bytes());
        headers.push(7);
        headers.extend_from_slice(&(v.len() as u16).to_be_bytes());
        headers.extend_from_slice(v.as_bytes());
    }
    let total = 16 + headers.len() + payload.len();
    let mut m = (total as u32).to_be_bytes().to_vec();
    m.extend_from_slice(&(headers.len() as u32).to_be_bytes());
    let c = crc32fast::hash(&m);
    m.extend_from_slice(&c.to_be_bytes());
    m.extend_from_slice(&headers);
    m.extend_from_slice(payload);
    let c = crc32fast::hash(&m);
    m.extend_from_slice(&c.to_be_bytes());
    m
}

const METADATA: &[u8] = br#"{"usage":{"inputTokens":13,"outputTokens":82}}"#;

#[test]
fn event_stream_message_crc_mismatch_is_corrupt_frame() {
    let mut body = frame("messageStart", "event", br#"{"role":"assistant"}"#);
    let mut meta = frame("metadata", "event", METADATA);
    // Flip one payload byte ('1' of 13 → '2'): the message CRC no longer matches.
    let k = meta.len() - 20;
    meta[k] ^= 0x01;
    body.extend(meta);
    let e = err(Provider::Bedrock, Some("m"), &body);
    assert_eq!(e.kind(), ErrorKind::CorruptFrame);
    assert!(e.message().contains("message CRC"), "{e}");
}

#[test]
fn event_stream_prelude_crc_mismatch_is_corrupt_frame() {
    let mut body = frame("messageStart", "event", br#"{"role":"assistant"}"#);
    let mut second = frame("metadata", "event", METADATA);
    second[8] ^= 0xFF;
    body.extend(second);
    let e = err(Provider::Bedrock, Some("m"), &body);
    assert_eq!(e.kind(), ErrorKind::CorruptFrame);
    assert!(e.message().contains("prelude CRC"), "{e}");
}

#[test]
fn event_stream_cut_mid_message_is_truncated() {
    let body = frame("metadata", "event", METADATA);
    let e = err(Provider::Bedrock, Some("m"), &body[..body.len() - 3]);
    assert_eq!(e.kind(), ErrorKind::Truncated);
}

#[test]
fn event_stream_exception_is_provider_error() {
    let body = frame(
        "throttlingException",
        "exception",
        br#"{"message":"Too many requests"}"#,
    );
    let e = err(Provider::Bedrock, Some("m"), &body);
    assert_eq!(e.kind(), ErrorKind::ProviderError);
    assert!(e.message().contains("throttlingException"), "{e}");
}

#[test]
fn event_stream_for_another_provider_is_unknown_format() {
    let body = frame("metadata", "event", METADATA);
    let e = err(Provider::OpenAi, None, &body);
    assert_eq!(e.kind(), ErrorKind::UnknownFormat);
    assert!(e.message().contains("--provider bedrock"), "{e}");
    // Anthropic reads event streams (InvokeModelWithResponseStream chunks): a ConverseStream
    // is recognised as Bedrock's.
    let e = err(Provider::Anthropic, None, &body);
    assert_eq!(e.kind(), ErrorKind::WrongProvider);
    assert!(e.message().contains("--provider bedrock"), "{e}");
}

#[test]
fn feeding_after_an_error_repeats_the_error() {
    let mut acc = Accumulator::new(Provider::OpenAi, None).unwrap();
    let first = acc.feed(b"{\"usage\": nope}").unwrap_err();
    let again = acc.feed(CHAT_OK.as_bytes()).unwrap_err();
    assert_eq!(first, again);
    assert_eq!(acc.finish().unwrap_err(), first);
}

#[test]
fn bedrock_sdk_exception_event_is_provider_error() {
    let stream = b"{\"messageStart\":{\"role\":\"assistant\"}}\n{\"modelStreamErrorException\":{\"message\":\"boom\",\"originalStatusCode\":500}}\n";
    let e = err(Provider::Bedrock, Some("m"), stream);
    assert_eq!(e.kind(), ErrorKind::ProviderError);
}
