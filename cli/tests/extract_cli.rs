//! `tollgate usage` end to end (docs/reference/cli.md): output shape, stdin / file / `-`, errors on stderr,
//! exit statuses.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("usage")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The command may exit before reading (flag errors): a broken pipe is fine.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).unwrap()
}

const BODY: &[u8] = br#"{"id":"chatcmpl-7","object":"chat.completion","model":"gpt-4o-mini","service_tier":"default",
 "choices":[{"message":{"content":"hi"}}],
 "usage":{"prompt_tokens":120,"completion_tokens":30,"prompt_tokens_details":{"cached_tokens":100},
          "completion_tokens_details":{"reasoning_tokens":0}}}"#;

// 120 prompt − 100 cached = 20 fresh.
const BODY_OUT: &str = r#"{"lineItems":[{"provider":"openai","model":"gpt-4o-mini","tokensIn":20,"cachedTokens":100,"cacheWrite5mTokens":0,"cacheWrite1hTokens":0,"tokensOut":30,"reasoningTokens":0,"audioTokensIn":0,"audioTokensOut":0,"imageTokensIn":0,"imageTokensOut":0,"webSearchRequests":0,"toolCalls":0,"serviceTier":"default","responseId":"chatcmpl-7"}]}
"#;

#[test]
fn reads_stdin_and_prints_the_spec_shape() {
    let out = run(&["--provider", "openai"], BODY);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), BODY_OUT);
    assert!(out.stderr.is_empty());
    let dash = run(&["--provider", "openai", "-"], BODY);
    assert_eq!(text(&dash.stdout), BODY_OUT);
}

#[test]
fn reads_a_file() {
    let dir = std::env::temp_dir().join(format!("tollgate-usage-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("body.json");
    std::fs::write(&file, BODY).unwrap();
    let out = run(&["--provider", "openai", file.to_str().unwrap()], b"");
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), BODY_OUT);
}

#[test]
fn recorded_fixture_with_reported_cost_and_advisor() {
    let dir =
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).join("../shared/fixtures/providers");
    if !dir.is_dir() {
        assert!(
            std::env::var_os("TOLLGATE_REQUIRE_SHARED").is_none(),
            "{} not found and TOLLGATE_REQUIRE_SHARED is set",
            dir.display()
        );
        eprintln!("SKIPPED: {} not found", dir.display());
        return;
    }
    let f = dir.join("openrouter_chat_1.json");
    let out = run(
        &["--provider", "openai_compatible", f.to_str().unwrap()],
        b"",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    // 3329 prompt = 3 fresh + 3211 cached + 115 written; cost $0.00219855 = 0.219855 cents.
    assert_eq!(
        text(&out.stdout),
        concat!(
            r#"{"lineItems":[{"provider":"openai_compatible","model":"anthropic/claude-4.6-sonnet-20260217","#,
            r#""tokensIn":3,"cachedTokens":3211,"cacheWrite5mTokens":115,"cacheWrite1hTokens":0,"tokensOut":53,"#,
            r#""reasoningTokens":0,"audioTokensIn":0,"audioTokensOut":0,"imageTokensIn":0,"imageTokensOut":0,"#,
            r#""webSearchRequests":0,"toolCalls":0,"serviceTier":null,"responseId":"gen-1773011158-Ce1hHC4Gr81WIraIsgAJ","#,
            r#""reportedCostCents":"0.219855"}]}"#,
            "\n"
        )
    );
    let f = dir.join("anthropic_stream_5.sse");
    let out = run(&["--provider", "anthropic", f.to_str().unwrap()], b"");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = v["lineItems"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["model"], "claude-opus-4-8");
    assert_eq!(items[1]["responseId"], "msg_011CdD8kd2BCHcbXAHcYxvaf#2");
    let f = dir.join("bedrock_conversestream_1.eventstream");
    let out = run(
        &[
            "--provider",
            "bedrock",
            "--model",
            "us.amazon.nova-micro-v1:0",
            f.to_str().unwrap(),
        ],
        b"",
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["lineItems"][0]["tokensIn"], 13);
    assert_eq!(v["lineItems"][0]["tokensOut"], 82);
}

#[test]
fn warnings_are_printed_beside_the_line_items() {
    let body = br#"{"id":"c","model":"m","service_tier":"scale","usage":{"prompt_tokens":1,"completion_tokens":1}}"#;
    let out = run(&["--provider", "openai"], body);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["warnings"],
        serde_json::json!(["unrecognised service tier \"scale\" read as default"])
    );
}

#[test]
fn errors_go_to_stderr_with_exit_status_1() {
    let out = run(&["--provider", "openai"], b"{\"usage\": [}");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        text(&out.stderr),
        "tollgate usage: malformed: malformed JSON: expected a JSON value (at byte 11)\n"
    );
    let out = run(
        &["--provider", "bedrock"],
        br#"{"usage":{"inputTokens":1,"outputTokens":1}}"#,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("tollgate usage: missing_model: "));
    let out = run(
        &["--provider", "openai", "/nonexistent/tollgate/body.json"],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("tollgate usage: io: cannot open"));
    let out = run(&["--provider", "openai"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("tollgate usage: no_usage: "));
}

#[test]
fn bad_flags_are_usage_errors() {
    let out = run(&["--provider", "groq"], b"{}");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr)
            .contains("possible values: openai, anthropic, bedrock, gemini, openai_compatible")
    );
    let out = run(&[], b"{}");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_documents_the_flags() {
    let out = run(&["--help"], b"");
    assert!(out.status.success());
    let help = text(&out.stdout);
    for needle in [
        "--provider",
        "--model",
        "[FILE]",
        "openai_compatible",
        "lineItems",
    ] {
        assert!(help.contains(needle), "help lacks {needle}:\n{help}");
    }
}

#[test]
fn openrouter_usage_counting_cached_tokens_as_written_too_is_kept_with_a_warning() {
    // Gemini 2.5 Flash through OpenRouter: 2161 tokens reported both cached and written.
    let body = br#"{"id":"gen-1","model":"google/gemini-2.5-flash","usage":{"prompt_tokens":2168,"completion_tokens":12,"prompt_tokens_details":{"cached_tokens":2161,"cache_write_tokens":2161}}}"#;
    let out = run(&["--provider", "openai_compatible"], body);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let li = &v["lineItems"][0];
    // 2168 − 2161 = 7 fresh; both buckets as reported.
    assert_eq!(
        (
            &li["tokensIn"],
            &li["cachedTokens"],
            &li["cacheWrite5mTokens"]
        ),
        (&7.into(), &2161.into(), &2161.into())
    );
    assert!(
        v["warnings"][0]
            .as_str()
            .unwrap()
            .contains("smaller than cached + cache-write tokens (2161 + 2161)"),
        "{v}"
    );
}
