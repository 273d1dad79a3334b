//! Usage extraction throughput over large synthetic streams (≥ 10,000 chunks with content).
//!
//! `cargo bench --bench extract` — figures in README ("Performance").

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use tollgate_engine::extract::{Accumulator, Provider};

/// Number of content events in each synthetic stream.
const EVENTS: usize = 20_000;

/// Deterministic filler text of varying length (with some escapes and non-ASCII).
fn text(i: usize) -> String {
    const WORDS: [&str; 8] = [
        "the",
        "quick",
        "brown",
        "fox \\\"jumps\\\"",
        "over",
        "the lazy",
        "dog —",
        "naïve",
    ];
    let n = 3 + i % 9;
    (0..n)
        .map(|k| WORDS[(i + k) % WORDS.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

fn openai_chat_sse() -> Vec<u8> {
    let mut s = String::new();
    for i in 0..EVENTS {
        s.push_str(&format!(
            "data: {{\"id\":\"chatcmpl-Dx0XpqH8w09uBXwq1zFGYdETjtnEl\",\"object\":\"chat.completion.chunk\",\"created\":1782955817,\"model\":\"gpt-4o-mini-2024-07-18\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_d0469e1700\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{}\"}},\"logprobs\":null,\"finish_reason\":null}}],\"usage\":null,\"obfuscation\":\"C63r\"}}\n\n",
            text(i)
        ));
    }
    s.push_str("data: {\"id\":\"chatcmpl-Dx0XpqH8w09uBXwq1zFGYdETjtnEl\",\"object\":\"chat.completion.chunk\",\"created\":1782955817,\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[],\"usage\":{\"prompt_tokens\":53,\"completion_tokens\":20000,\"total_tokens\":20053,\"prompt_tokens_details\":{\"cached_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":0}}}\n\ndata: [DONE]\n\n");
    s.into_bytes()
}

fn anthropic_sse() -> Vec<u8> {
    let mut s = String::from(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-sonnet-4-20250514\",\"id\":\"msg_01ALwQ87pTS7hH1PjSdC9wJD\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"usage\":{\"input_tokens\":43,\"output_tokens\":1}}}\n\n",
    );
    for i in 0..EVENTS {
        s.push_str(&format!(
            "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{{\"type\":\"text_delta\",\"text\":\"{}\"}}}}\n\n",
            text(i)
        ));
    }
    s.push_str("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":20000}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    s.into_bytes()
}

fn gemini_sse() -> Vec<u8> {
    let mut s = String::new();
    for i in 0..EVENTS {
        let fin = if i + 1 == EVENTS {
            ",\"finishReason\":\"STOP\""
        } else {
            ""
        };
        s.push_str(&format!(
            "data: {{\"candidates\": [{{\"content\": {{\"parts\": [{{\"text\": \"{}\"}}],\"role\": \"model\"}},\"index\": 0{fin}}}],\"usageMetadata\": {{\"promptTokenCount\": 46,\"candidatesTokenCount\": {},\"totalTokenCount\": {},\"promptTokensDetails\": [{{\"modality\": \"TEXT\",\"tokenCount\": 46}}]}},\"modelVersion\": \"gemini-3-flash-preview\",\"responseId\": \"n1P6abvRFaKdz7IPkcuQ2Aw\"}}\r\n\r\n",
            text(i),
            i + 1,
            i + 47
        ));
    }
    s.into_bytes()
}

/// One AWS event-stream message with correct CRCs.
fn frame(event_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut headers = Vec::new();
    for (n, v) in [
        (":event-type", event_type),
        (":content-type", "application/json"),
        (":message-type", "event"),
    ] {
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

fn bedrock_eventstream() -> Vec<u8> {
    let mut out = frame("messageStart", br#"{"role":"assistant"}"#);
    for i in 0..EVENTS {
        let p = format!(
            "{{\"contentBlockIndex\":0,\"delta\":{{\"text\":\"{}\"}},\"p\":\"abcdefghijklmnopqrstuvwxyz\"}}",
            text(i)
        );
        out.extend(frame("contentBlockDelta", p.as_bytes()));
    }
    out.extend(frame(
        "metadata",
        br#"{"metrics":{"latencyMs":522},"usage":{"inputTokens":13,"outputTokens":20000,"totalTokens":20013}}"#,
    ));
    out
}

/// The Anthropic stream as Bedrock InvokeModelWithResponseStream sends it: each event
/// base64-encoded in a `chunk` message.
fn anthropic_invoke_eventstream() -> Vec<u8> {
    use base64::Engine as _;
    let sse = String::from_utf8(anthropic_sse()).unwrap();
    let mut out = Vec::new();
    for line in sse.lines().filter_map(|l| l.strip_prefix("data: ")) {
        let b64 = base64::engine::general_purpose::STANDARD.encode(line);
        let p = format!("{{\"bytes\":\"{b64}\",\"p\":\"abcdefghij\"}}");
        out.extend(frame("chunk", p.as_bytes()));
    }
    out
}

/// A non-streaming Responses body with a large output text and reasoning.
fn openai_responses_body() -> Vec<u8> {
    let content: Vec<String> = (0..EVENTS).map(text).collect();
    format!(
        "{{\"id\":\"resp_1\",\"object\":\"response\",\"model\":\"gpt-5\",\"output\":[{{\"type\":\"message\",\"content\":[{{\"type\":\"output_text\",\"text\":\"{}\"}}]}}],\"service_tier\":\"default\",\"usage\":{{\"input_tokens\":53,\"input_tokens_details\":{{\"cached_tokens\":0}},\"output_tokens\":20000,\"output_tokens_details\":{{\"reasoning_tokens\":448}}}}}}",
        content.join(" ")
    )
    .into_bytes()
}

/// Splits `body` at SSE event boundaries (how SDKs hand chunks over).
fn per_event(body: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + 1 < body.len() {
        if body[i] == b'\n' && body[i + 1] == b'\n' {
            out.push(&body[start..i + 2]);
            start = i + 2;
            i += 2;
        } else if body[i..].starts_with(b"\r\n\r\n") {
            out.push(&body[start..i + 4]);
            start = i + 4;
            i += 4;
        } else {
            i += 1;
        }
    }
    if start < body.len() {
        out.push(&body[start..]);
    }
    out
}

fn run(provider: Provider, model: Option<&str>, chunks: &[&[u8]]) -> usize {
    let mut acc = Accumulator::new(provider, model).unwrap();
    for c in chunks {
        acc.feed(c).unwrap();
    }
    let items = acc.finish().unwrap();
    items.len()
}

fn bench(c: &mut Criterion) {
    let cases: Vec<(&str, Provider, Option<&str>, Vec<u8>)> = vec![
        ("openai_chat_sse", Provider::OpenAi, None, openai_chat_sse()),
        ("anthropic_sse", Provider::Anthropic, None, anthropic_sse()),
        ("gemini_sse", Provider::Gemini, None, gemini_sse()),
        (
            "bedrock_eventstream",
            Provider::Bedrock,
            Some("us.amazon.nova-micro-v1:0"),
            bedrock_eventstream(),
        ),
        (
            "anthropic_invoke_eventstream",
            Provider::Anthropic,
            None,
            anthropic_invoke_eventstream(),
        ),
        (
            "openai_responses_body",
            Provider::OpenAi,
            None,
            openai_responses_body(),
        ),
    ];
    let mut g = c.benchmark_group("extract");
    for (name, provider, model, body) in &cases {
        g.throughput(Throughput::Bytes(body.len() as u64));
        // 4 KiB reads: chunks split lines, events and characters anywhere.
        let reads: Vec<&[u8]> = body.chunks(4096).collect();
        g.bench_function(format!("{name}/4KiB_reads"), |b| {
            b.iter(|| black_box(run(*provider, *model, black_box(&reads))))
        });
        if name.ends_with("_sse") {
            // One chunk per SSE event, as SDK stream iterators hand them over.
            let events = per_event(body);
            assert!(events.len() >= 10_000);
            g.bench_function(format!("{name}/per_event"), |b| {
                b.iter(|| black_box(run(*provider, *model, black_box(&events))))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
