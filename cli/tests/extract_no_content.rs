//! No content retained: a unique marker planted in prompt/completion content — and in
//! malformed input, right where the error is found — never appears in any line item, its
//! JSON, its `Debug` form, an error's message or `Debug` form, the accumulator's `Debug` form,
//! or the command line's stdout / stderr.

use std::io::Write;
use std::process::{Command, Stdio};
use tollgate_engine::extract::{Accumulator, Provider};

const MARK: &str = "ZQXJ7731MARKER";

/// Every observable string of one extraction, fed in 5-byte chunks.
fn observe(provider: Provider, model: Option<&str>, input: &[u8]) -> Vec<String> {
    let mut seen = Vec::new();
    let mut acc = Accumulator::new(provider, model).unwrap();
    let mut failed = false;
    for c in input.chunks(5) {
        if let Err(e) = acc.feed(c) {
            seen.push(e.to_string());
            seen.push(format!("{e:?}"));
            failed = true;
            break;
        }
        seen.push(format!("{acc:?}"));
    }
    seen.push(format!("{acc:?}"));
    match acc.finish() {
        Ok(items) => {
            assert!(!failed);
            for li in &items {
                seen.push(format!("{li:?}"));
                seen.push(li.to_json());
                seen.extend(li.warnings.iter().cloned());
            }
        }
        Err(e) => {
            seen.push(e.to_string());
            seen.push(format!("{e:?}"));
        }
    }
    seen.extend(cli(provider, model, input));
    seen
}

/// stdout and stderr of `tollgate usage` on the same input.
fn cli(provider: Provider, model: Option<&str>, input: &[u8]) -> Vec<String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    cmd.args(["usage", "--provider", provider.as_str()]);
    if let Some(m) = model {
        cmd.args(["--model", m]);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The command may exit before reading all input (early errors): a broken pipe is fine.
    let _ = child.stdin.take().unwrap().write_all(input);
    let out = child.wait_with_output().unwrap();
    vec![
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ]
}

/// One InvokeModelWithResponseStream `chunk` message carrying `event` base64-encoded.
fn invoke_chunk(event: &str) -> Vec<u8> {
    use base64::Engine as _;
    let payload = format!(
        r#"{{"bytes":"{}"}}"#,
        base64::engine::general_purpose::STANDARD.encode(event)
    );
    let mut headers = Vec::new();
    for (name, value) in [(":event-type", "chunk"), (":message-type", "event")] {
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
    m.extend_from_slice(payload.as_bytes());
    let crc = crc32fast::hash(&m);
    m.extend_from_slice(&crc.to_be_bytes());
    m
}

fn assert_clean(what: &str, seen: &[String]) {
    for s in seen {
        assert!(!s.contains(MARK), "{what}: marker leaked into {s:?}");
        assert!(
            !s.contains("7731"),
            "{what}: part of the marker leaked into {s:?}"
        );
    }
}

fn case(what: &str, provider: Provider, model: Option<&str>, input: &str) {
    assert!(
        input.contains(MARK),
        "{what}: the case must plant the marker"
    );
    assert_clean(what, &observe(provider, model, input.as_bytes()));
}

#[test]
fn content_in_successful_responses_is_not_retained() {
    let m = MARK;
    case(
        "openai chat body",
        Provider::OpenAi,
        None,
        &format!(
            r#"{{"id":"c1","model":"gpt-4o","choices":[{{"message":{{"role":"assistant","content":"{m} {m}","tool_calls":[{{"function":{{"name":"f","arguments":"{{\"q\":\"{m}\"}}"}}}}]}}}}],"usage":{{"prompt_tokens":9,"completion_tokens":3}}}}"#
        ),
    );
    case(
        "openai chat stream",
        Provider::OpenAi,
        None,
        &format!(
            "data: {{\"id\":\"c1\",\"model\":\"gpt-4o\",\"choices\":[{{\"delta\":{{\"content\":\"{m}\"}}}}],\"usage\":null}}\n\ndata: {{\"id\":\"c1\",\"model\":\"gpt-4o\",\"choices\":[],\"usage\":{{\"prompt_tokens\":9,\"completion_tokens\":3}}}}\n\ndata: [DONE]\n\n"
        ),
    );
    case(
        "openai responses stream",
        Provider::OpenAi,
        None,
        &format!(
            "event: response.output_text.delta\ndata: {{\"type\":\"response.output_text.delta\",\"delta\":\"{m}\"}}\n\nevent: response.completed\ndata: {{\"type\":\"response.completed\",\"response\":{{\"id\":\"r\",\"model\":\"gpt-5\",\"instructions\":\"{m}\",\"output\":[{{\"content\":[{{\"text\":\"{m}\"}}]}}],\"usage\":{{\"input_tokens\":5,\"output_tokens\":2}}}}}}\n\n"
        ),
    );
    case(
        "anthropic stream",
        Provider::Anthropic,
        None,
        &format!(
            "data: {{\"type\":\"message_start\",\"message\":{{\"id\":\"msg\",\"model\":\"claude\",\"content\":[],\"usage\":{{\"input_tokens\":4,\"output_tokens\":1}}}}}}\n\ndata: {{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{{\"type\":\"tool_use\",\"input\":{{\"{m}\":\"{m}\"}}}}}}\n\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"thinking_delta\",\"thinking\":\"{m}\"}}}}\n\ndata: {{\"type\":\"message_delta\",\"usage\":{{\"output_tokens\":9}}}}\n\n"
        ),
    );
    case(
        "bedrock converse",
        Provider::Bedrock,
        Some("anthropic.claude-3-7-sonnet"),
        &format!(
            r#"{{"output":{{"message":{{"content":[{{"reasoningContent":{{"reasoningText":{{"text":"{m}"}}}}}},{{"text":"{m}"}}]}}}},"usage":{{"inputTokens":5,"outputTokens":6}}}}"#
        ),
    );
    case(
        "responses web search and function call items",
        Provider::OpenAi,
        None,
        &format!(
            r#"{{"id":"r","object":"response","model":"gpt-5","output":[{{"type":"web_search_call","action":{{"query":"{m}"}}}},{{"type":"function_call","name":"{m}","arguments":"{m}"}}],"usage":{{"input_tokens":5,"output_tokens":2}}}}"#
        ),
    );
    case(
        "gemini grounding queries",
        Provider::Gemini,
        None,
        &format!(
            r#"{{"candidates":[{{"content":{{"parts":[{{"text":"x"}}]}},"finishReason":"STOP","groundingMetadata":{{"webSearchQueries":["{m}"]}}}}],"usageMetadata":{{"promptTokenCount":3,"candidatesTokenCount":2}},"modelVersion":"gemini-2.5-flash"}}"#
        ),
    );
    case(
        "perplexity cost in a named currency",
        Provider::OpenAiCompatible,
        None,
        &format!(
            r#"{{"id":"p","model":"sonar","usage":{{"prompt_tokens":3,"completion_tokens":1,"cost":{{"currency":"{m}","total_cost":0.1}}}}}}"#
        ),
    );
    let mut stream = Vec::new();
    for e in [
        r#"{"type":"message_start","message":{"id":"msg","model":"claude","content":[],"usage":{"input_tokens":4,"output_tokens":1}}}"#.to_string(),
        format!(r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"text_delta","text":"{m}"}}}}"#),
        r#"{"type":"message_delta","usage":{"output_tokens":9}}"#.to_string(),
    ] {
        stream.extend(invoke_chunk(&e));
    }
    assert_clean(
        "anthropic invoke stream",
        &observe(Provider::Anthropic, None, &stream),
    );
    case(
        "gemini stream",
        Provider::Gemini,
        None,
        &format!(
            "data: {{\"candidates\":[{{\"content\":{{\"parts\":[{{\"text\":\"{m}\",\"thought\":true}},{{\"functionCall\":{{\"name\":\"f\",\"args\":{{\"{m}\":1}}}}}}]}},\"finishReason\":\"STOP\"}}],\"usageMetadata\":{{\"promptTokenCount\":3,\"candidatesTokenCount\":2}},\"modelVersion\":\"gemini-2.5-flash\"}}\n\n"
        ),
    );
}

#[test]
fn content_in_failing_input_is_not_echoed() {
    let m = MARK;
    // The error is found right at or inside the marker in each case.
    case(
        "bare word in JSON",
        Provider::OpenAi,
        None,
        &format!(r#"{{"usage": {m}}}"#),
    );
    case(
        "body cut inside content",
        Provider::OpenAi,
        None,
        &format!(r#"{{"choices":[{{"message":{{"content":"{m}"#),
    );
    case(
        "SSE cut inside content",
        Provider::Anthropic,
        None,
        &format!("data: {{\"type\":\"content_block_delta\",\"delta\":{{\"text\":\"{m}"),
    );
    case(
        "count given as content",
        Provider::OpenAi,
        None,
        &format!(r#"{{"model":"m","usage":{{"prompt_tokens":"{m}","completion_tokens":1}}}}"#),
    );
    case(
        "usage object of the wrong type",
        Provider::Anthropic,
        None,
        &format!(
            r#"{{"type":"message","model":"c","usage":{{"input_tokens":1,"output_tokens":1,"cache_creation":"{m}"}}}}"#
        ),
    );
    case(
        "model of the wrong type",
        Provider::Gemini,
        None,
        &format!(r#"{{"modelVersion":["{m}"],"usageMetadata":{{"promptTokenCount":1}}}}"#),
    );
    case(
        "not a response at all",
        Provider::OpenAi,
        None,
        &format!("{m} says hello\n"),
    );
    case(
        "SSE field line that is content",
        Provider::OpenAi,
        None,
        &format!("data: {{\"choices\":[]}}\n\n{m}: {m}\n\n"),
    );
    case(
        "provider error with a content message",
        Provider::Anthropic,
        None,
        &format!(
            r#"{{"type":"error","error":{{"type":"invalid_request_error","message":"prompt {m} too long"}}}}"#
        ),
    );
    case(
        "error type that is not a token",
        Provider::Gemini,
        None,
        &format!(r#"{{"error":{{"code":400,"status":"{m} is bad","message":"{m}"}}}}"#),
    );
    case(
        "unknown tier name with content",
        Provider::OpenAi,
        None,
        &format!(
            r#"{{"model":"m","service_tier":"{m} tier","usage":{{"prompt_tokens":1,"completion_tokens":1}}}}"#
        ),
    );
    case(
        "no usage after content",
        Provider::OpenAi,
        None,
        &format!(
            "data: {{\"model\":\"m\",\"choices\":[{{\"delta\":{{\"content\":\"{m}\"}}}}]}}\n\n"
        ),
    );
    case(
        "failed response with a content error code",
        Provider::OpenAi,
        None,
        &format!(
            r#"{{"type":"response.failed","response":{{"id":"r","model":"m","error":{{"code":"{m} code","message":"{m}"}},"usage":null}}}}"#
        ),
    );
    // A base64 InvokeModel chunk whose decoded event holds the marker, cut before its end.
    let event = format!(
        r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"text_delta","text":"{m}"}}}}"#
    );
    let mut chunk = invoke_chunk(&event);
    chunk.truncate(chunk.len() - 6);
    assert_clean(
        "invoke stream cut inside a chunk",
        &observe(Provider::Anthropic, None, &chunk),
    );
    // Invalid UTF-8 right after the marker.
    let mut bytes = format!(r#"{{"choices":[{{"message":{{"content":"{m}"#).into_bytes();
    bytes.extend_from_slice(b"\xC3\x28\"}}]}");
    assert_clean("invalid UTF-8", &observe(Provider::OpenAi, None, &bytes));
}
