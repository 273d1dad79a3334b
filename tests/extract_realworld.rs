//! Shapes seen in real recorded provider responses that the first version of extraction got
//! wrong or rejected. Each body is hand-written (invented ids and content) with the field
//! layout of the real response; the expected counts are worked out in the comments from the
//! provider's documented semantics and docs/reference/events.md (usage) / docs/reference/extraction.md.

use tollgate_engine::extract::{Accumulator, ErrorKind, LineItem, Provider, extract};
use tollgate_engine::money::Cents;
use tollgate_engine::usage::ServiceTier;

/// Extracts whole, then again fed in 5-byte chunks, and checks both agree.
fn both_ways(provider: Provider, model: Option<&str>, body: &[u8]) -> Vec<LineItem> {
    let whole = extract(provider, model, body).unwrap_or_else(|e| panic!("{e} [{}]", e.kind()));
    let mut acc = Accumulator::new(provider, model).unwrap();
    for c in body.chunks(5) {
        acc.feed(c).unwrap();
    }
    assert_eq!(
        acc.finish().unwrap(),
        whole,
        "5-byte chunks differ from whole"
    );
    whole
}

fn one(provider: Provider, model: Option<&str>, body: &[u8]) -> LineItem {
    let mut items = both_ways(provider, model, body);
    assert_eq!(items.len(), 1, "{items:?}");
    items.remove(0)
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

fn cents(s: &str) -> Cents {
    Cents::from_cents_literal(s, false).unwrap()
}

/// JSON Lines: one payload per line (line breaks inside a payload become spaces).
fn lines(payloads: &[&str]) -> Vec<u8> {
    let mut s = String::new();
    for p in payloads {
        s.push_str(&p.replace('\n', " "));
        s.push('\n');
    }
    s.into_bytes()
}

// ---------------------------------------------------------------- OpenAI-compatible servers

#[test]
fn xai_chat_completion_tokens_exclude_reasoning_when_the_total_says_so() {
    // xAI: total_tokens 470 = prompt 300 + completion 20 + reasoning 150, so completion_tokens
    // does not include the reasoning. tokensOut = 20 + 150 = 170; tokensIn = 300 − 280 = 20.
    // cost_in_usd_ticks: 1 tick = 1e-10 USD = 1e-8 cents; 1,234,500 ticks = 0.012345 cents.
    let stream = lines(&[
        r#"{"id":"x-1","object":"chat.completion.chunk","model":"grok-q","choices":[{"index":0,"delta":{"reasoning_content":"hm","role":"assistant"}}]}"#,
        r#"{"id":"x-1","object":"chat.completion.chunk","model":"grok-q","choices":[{"index":0,"delta":{"tool_calls":[{"id":"call_1","function":{"name":"lookup","arguments":"{}"},"index":0,"type":"function"}]}}]}"#,
        r#"{"id":"x-1","object":"chat.completion.chunk","model":"grok-q","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
        r#"{"id":"x-1","object":"chat.completion.chunk","model":"grok-q","choices":[],"usage":{"prompt_tokens":300,"completion_tokens":20,"total_tokens":470,
           "prompt_tokens_details":{"text_tokens":300,"audio_tokens":0,"image_tokens":0,"cached_tokens":280},
           "completion_tokens_details":{"reasoning_tokens":150,"audio_tokens":0},"num_sources_used":0,"cost_in_usd_ticks":1234500}}"#,
    ]);
    let li = one(Provider::OpenAiCompatible, None, &stream);
    assert_eq!(counts(&li), (20, 280, 0, 0, 170));
    assert_eq!(li.usage.reasoning_tokens, 150);
    assert_eq!(li.usage.tool_calls, 1);
    assert_eq!(li.reported_cost_cents, Some(cents("0.012345")));
}

#[test]
fn completion_including_reasoning_is_left_alone() {
    // DeepSeek-style: total 92 = prompt 88 + completion 4 (the 4 reasoning tokens are inside).
    let body = br#"{"id":"d-1","object":"chat.completion","model":"deep-m","choices":[],
      "usage":{"prompt_tokens":88,"completion_tokens":4,"total_tokens":92,
               "completion_tokens_details":{"reasoning_tokens":4},"prompt_cache_hit_tokens":0,"prompt_cache_miss_tokens":88}}"#;
    let li = one(Provider::OpenAiCompatible, None, body);
    assert_eq!(counts(&li), (88, 0, 0, 0, 4));
    assert_eq!(li.usage.reasoning_tokens, 4);
}

#[test]
fn perplexity_cost_object_gives_its_total_and_search_count() {
    // Sonar: usage.cost is an object; total_cost $0.00501 = 0.501 cents. num_search_queries 1.
    let body = br#"{"id":"p-1","model":"sonar-x","object":"chat.completion",
      "usage":{"completion_tokens":1,"cost":{"input_tokens_cost":0.00001,"output_tokens_cost":0,"request_cost":0.005,"total_cost":0.00501},
               "prompt_tokens":6,"search_context_size":"low","num_search_queries":1,"total_tokens":7},
      "choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}"#;
    let li = one(Provider::OpenAiCompatible, None, body);
    assert_eq!(counts(&li), (6, 0, 0, 0, 1));
    assert_eq!(li.reported_cost_cents, Some(cents("0.501")));
    assert_eq!(li.usage.web_search_requests, 1);
    // A cost in another currency is not taken as US dollars.
    let eur = br#"{"id":"p-2","model":"sonar-x","usage":{"prompt_tokens":6,"completion_tokens":1,
      "cost":{"currency":"EUR","total_cost":0.004}}}"#;
    assert_eq!(
        one(Provider::OpenAiCompatible, None, eur).reported_cost_cents,
        None
    );
}

#[test]
fn perplexity_agent_responses_name_cache_writes_anthropic_style() {
    // input_tokens 5000 includes the cache: 3000 read + 1990 written, so 10 fresh.
    // service_tier "fast" = priority. tool_calls_details.search_web.invocation 2 = 2 searches.
    // cost.total_cost $0.00321 = 0.321 cents.
    let body = br#"{"id":"resp_p1","object":"response","model":"vendor/model-z","service_tier":"fast","status":"completed",
      "output":[{"queries":["q"],"results":[{"id":1,"url":"https://example.test"}],"type":"search_results"},
                {"content":[{"annotations":[],"text":"answer","type":"output_text"}],"id":"msg_1","role":"assistant","type":"message"}],
      "usage":{"cost":{"currency":"USD","input_cost":0,"output_cost":0.00002,"tool_calls_cost":0.002,"total_cost":0.00321},
               "input_tokens":5000,"input_tokens_details":{"cache_creation_input_tokens":1990,"cache_read_input_tokens":3000,"cached_tokens":3000},
               "output_tokens":40,"output_tokens_details":{"reasoning_tokens":0},
               "tool_calls_details":{"search_web":{"cost_usd":0.002,"invocation":2}},"total_tokens":5040}}"#;
    let li = one(Provider::OpenAiCompatible, None, body);
    assert_eq!(counts(&li), (10, 3000, 1990, 0, 40));
    assert_eq!(li.served_tier, Some(ServiceTier::Priority));
    assert_eq!(li.usage.web_search_requests, 2);
    assert_eq!(li.reported_cost_cents, Some(cents("0.321")));
}

#[test]
fn cache_creation_breakdown_inside_prompt_details_splits_the_writes() {
    // prompt_tokens 2600 = 100 cached + 1500 written + 1000 fresh; of the 1500 written, the
    // breakdown says 500 at the 1-hour TTL, so 1000 at 5 minutes.
    let body = br#"{"id":"q-1","object":"chat.completion","model":"qwen-x","choices":[],
      "usage":{"prompt_tokens":2600,"completion_tokens":7,"total_tokens":2607,
        "prompt_tokens_details":{"cached_tokens":100,"cache_creation_input_tokens":1500,"cache_type":"ephemeral",
          "cache_creation":{"ephemeral_5m_input_tokens":1000,"ephemeral_1h_input_tokens":500}}}}"#;
    let li = one(Provider::OpenAiCompatible, None, body);
    assert_eq!(counts(&li), (1000, 100, 1000, 500, 7));
}

#[test]
fn mistral_served_tier_inside_the_usage() {
    let stream = lines(&[
        r#"{"id":"m-1","object":"chat.completion.chunk","model":"mist-s","choices":[{"index":0,"delta":{"content":"OK"},"finish_reason":null}],"p":"abcdef"}"#,
        r#"{"id":"m-1","object":"chat.completion.chunk","model":"mist-s","choices":[{"index":0,"delta":{"content":""},"finish_reason":"stop"}],
           "usage":{"prompt_tokens":19,"total_tokens":21,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":0},"service_tier":"priority"},"p":"abc"}"#,
    ]);
    let li = one(Provider::OpenAiCompatible, None, &stream);
    assert_eq!(counts(&li), (19, 0, 0, 0, 2));
    assert_eq!(li.served_tier, Some(ServiceTier::Priority));
}

#[test]
fn openrouter_web_search_requests_in_server_tool_use_details() {
    // OpenRouter's web plugin: usage.server_tool_use_details.web_search_requests.
    let body = br#"{"id":"gen-1","object":"chat.completion","model":"vendor/m","provider":"Vendor","service_tier":"default",
      "choices":[{"finish_reason":"stop","index":0,"message":{"content":"url","role":"assistant"}}],
      "usage":{"completion_tokens":30,"completion_tokens_details":{"reasoning_tokens":0},"cost":0.0133176,"is_byok":false,
               "prompt_tokens":8174,"prompt_tokens_details":{"cache_write_tokens":0,"cached_tokens":0},
               "server_tool_use_details":{"web_search_requests":1},"total_tokens":8204}}"#;
    let li = one(Provider::OpenAiCompatible, None, body);
    assert_eq!(counts(&li), (8174, 0, 0, 0, 30));
    assert_eq!(li.usage.web_search_requests, 1);
    assert_eq!(li.reported_cost_cents, Some(cents("1.33176")));
}

// ------------------------------------------------------------------------ OpenAI tool calls

#[test]
fn chat_tool_calls_are_counted_in_bodies_and_streams() {
    // A body with two parallel tool calls.
    let body = br#"{"id":"c-1","object":"chat.completion","model":"gpt-q","choices":[{"index":0,"message":{"role":"assistant",
      "tool_calls":[{"id":"call_a","type":"function","function":{"name":"f","arguments":"{}"}},
                    {"id":"call_b","type":"function","function":{"name":"g","arguments":"{}"}}]},"finish_reason":"tool_calls"}],
      "usage":{"prompt_tokens":50,"completion_tokens":20}}"#;
    assert_eq!(one(Provider::OpenAi, None, body).usage.tool_calls, 2);

    // A stream: each call's first delta has an id and an index; argument deltas have only the
    // index. Indexes 0 and 1: two calls.
    let stream = lines(&[
        r#"{"id":"c-2","model":"gpt-q","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"f","arguments":""}}]}}]}"#,
        r#"{"id":"c-2","model":"gpt-q","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]}"#,
        r#"{"id":"c-2","model":"gpt-q","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"g","arguments":""}}]}}]}"#,
        r#"{"id":"c-2","model":"gpt-q","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{}"}}]}}]}"#,
        r#"{"id":"c-2","model":"gpt-q","choices":[],"usage":{"prompt_tokens":50,"completion_tokens":20}}"#,
    ]);
    assert_eq!(one(Provider::OpenAi, None, &stream).usage.tool_calls, 2);

    // A server repeating the id on every delta of one call: the index (always 0) says one.
    let repeated = lines(&[
        r#"{"id":"c-3","model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","function":{"name":"f","arguments":""}}]}}]}"#,
        r#"{"id":"c-3","model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","function":{"arguments":"{}"}}]}}]}"#,
        r#"{"id":"c-3","model":"m","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}}"#,
    ]);
    assert_eq!(
        one(Provider::OpenAiCompatible, None, &repeated)
            .usage
            .tool_calls,
        1
    );
}

#[test]
fn responses_output_items_give_web_searches_and_tool_calls() {
    // Two web_search_call items and one function_call item; no tool_usage: searches = 2.
    let body = br#"{"id":"resp_w1","object":"response","status":"completed","model":"gpt-q",
      "output":[{"type":"web_search_call","id":"ws_1","status":"completed","action":{"type":"search","query":"one"}},
                {"type":"web_search_call","id":"ws_2","status":"completed","action":{"type":"search"}},
                {"type":"function_call","id":"fc_1","call_id":"call_1","name":"f","arguments":"{}"},
                {"type":"message","id":"msg_1","role":"assistant","content":[{"type":"output_text","text":"web_search_call","annotations":[]}]}],
      "tools":[{"type":"web_search"}],
      "usage":{"input_tokens":327,"input_tokens_details":{"cached_tokens":0},"output_tokens":770,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":1097},
      "metadata":{}}"#;
    let li = one(Provider::OpenAi, None, body);
    assert_eq!(counts(&li), (327, 0, 0, 0, 770));
    assert_eq!((li.usage.web_search_requests, li.usage.tool_calls), (2, 1));

    // The same in a stream: only the final response object counts (output_item events repeat
    // the items and are not counted twice).
    let stream = lines(&[
        r#"{"type":"response.created","sequence_number":0,"response":{"id":"resp_w2","model":"gpt-q","output":[],"usage":null}}"#,
        r#"{"type":"response.output_item.done","sequence_number":1,"output_index":0,"item":{"type":"web_search_call","id":"ws_1","status":"completed"}}"#,
        r#"{"type":"response.completed","sequence_number":2,"response":{"id":"resp_w2","model":"gpt-q",
           "output":[{"type":"web_search_call","id":"ws_1","status":"completed"},{"type":"message","id":"msg_1","content":[]}],
           "usage":{"input_tokens":100,"input_tokens_details":{"cached_tokens":0},"output_tokens":10,"output_tokens_details":{"reasoning_tokens":0}}}}"#,
    ]);
    let li = one(Provider::OpenAi, None, &stream);
    assert_eq!((li.usage.web_search_requests, li.usage.tool_calls), (1, 0));

    // A stated count (tool_usage.web_search.num_requests) wins over the items.
    let stated = br#"{"id":"resp_w3","object":"response","model":"gpt-q","tool_usage":{"web_search":{"num_requests":1}},
      "output":[{"type":"web_search_call","id":"ws_1"},{"type":"web_search_call","id":"ws_2"}],
      "usage":{"input_tokens":10,"output_tokens":1}}"#;
    assert_eq!(
        one(Provider::OpenAi, None, stated)
            .usage
            .web_search_requests,
        1
    );
}

#[test]
fn failed_response_event_is_a_provider_error() {
    let stream = lines(&[
        r#"{"type":"response.created","sequence_number":0,"response":{"id":"resp_f1","model":"gpt-q","output":[],"usage":null}}"#,
        r#"{"type":"response.failed","sequence_number":1,"response":{"id":"resp_f1","model":"gpt-q","status":"failed",
           "error":{"code":"rate_limit_exceeded","message":"secret-ish text"},"output":[],"usage":null}}"#,
    ]);
    let e = extract(Provider::OpenAi, None, &stream).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ProviderError);
    assert!(e.message().contains("rate_limit_exceeded"), "{e}");
    assert!(!e.message().contains("secret"), "{e}");
}

#[test]
fn keys_and_event_types_written_with_escapes_are_read() {
    // "us\u0061ge" is "usage"; "prompt\u005ftokens" is "prompt_tokens".
    let body = br#"{"id":"e-1","model":"gpt-q","us\u0061ge":{"prompt\u005ftokens":12,"completion_tokens":3}}"#;
    assert_eq!(counts(&one(Provider::OpenAi, None, body)), (12, 0, 0, 0, 3));
    // An Anthropic stream whose event type is escaped: message_delta still replaces.
    let stream = lines(&[
        r#"{"type":"message_start","message":{"id":"msg_e","model":"claude-q","usage":{"input_tokens":9,"output_tokens":1}}}"#,
        r#"{"type":"message_\u0064elta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":42}}"#,
    ]);
    assert_eq!(
        counts(&one(Provider::Anthropic, None, &stream)),
        (9, 0, 0, 0, 42)
    );
}

// ------------------------------------------------------------------------------- Anthropic

#[test]
fn anthropic_fallback_iteration_on_another_model_is_its_own_line_item() {
    // The request fell back from model-a to model-b: each iteration names the model that ran
    // it. The response names model-b: its iteration is the response's line item (412 / 264);
    // model-a's iteration (408 in, 0 out) is billed on model-a as a second line item.
    let body = br#"{"id":"msg_fb1","type":"message","role":"assistant","model":"claude-model-b",
      "content":[{"type":"fallback","from":{"model":"claude-model-a"},"to":{"model":"claude-model-b"}},{"type":"text","text":"hi"}],
      "stop_reason":"end_turn",
      "usage":{"input_tokens":412,"output_tokens":264,"cache_read_input_tokens":0,"cache_creation_input_tokens":0,
        "iterations":[{"type":"message","model":"claude-model-a","input_tokens":408,"output_tokens":0,"cache_read_input_tokens":0,"cache_creation_input_tokens":0},
                      {"type":"fallback_message","model":"claude-model-b","input_tokens":412,"output_tokens":264,"cache_read_input_tokens":0,"cache_creation_input_tokens":0}]}}"#;
    let items = both_ways(Provider::Anthropic, None, body);
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].model, "claude-model-b");
    assert_eq!(counts(&items[0]), (412, 0, 0, 0, 264));
    assert_eq!(items[1].model, "claude-model-a");
    assert_eq!(counts(&items[1]), (408, 0, 0, 0, 0));
    assert_eq!(items[1].response_id.as_deref(), Some("msg_fb1#2"));

    // Mid-stream fallback: the stream started on model-a (message_start names it), so model-a's
    // iteration (10 / 40) is the response's item and model-b's (12 / 30) the second. The
    // tool_use block counts once, on the response's item.
    let stream = lines(&[
        r#"{"type":"message_start","message":{"id":"msg_fb2","type":"message","role":"assistant","model":"claude-model-a","content":[],"usage":{"input_tokens":10,"output_tokens":0}}}"#,
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"fallback","from":{"model":"claude-model-a"},"to":{"model":"claude-model-b"}}}"#,
        r#"{"type":"content_block_stop","index":0}"#,
        r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"lookup","input":{}}}"#,
        r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{}"}}"#,
        r#"{"type":"content_block_stop","index":1}"#,
        r#"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":70,"iterations":[
            {"type":"message","model":"claude-model-a","input_tokens":10,"output_tokens":40},
            {"type":"fallback_message","model":"claude-model-b","input_tokens":12,"output_tokens":30}]}}"#,
        r#"{"type":"message_stop"}"#,
    ]);
    let items = both_ways(Provider::Anthropic, None, &stream);
    assert_eq!(items.len(), 2);
    assert_eq!(
        (items[0].model.as_str(), counts(&items[0])),
        ("claude-model-a", (10, 0, 0, 0, 40))
    );
    assert_eq!(
        (items[1].model.as_str(), counts(&items[1])),
        ("claude-model-b", (12, 0, 0, 0, 30))
    );
    assert_eq!(
        (items[0].usage.tool_calls, items[1].usage.tool_calls),
        (1, 0)
    );
}

#[test]
fn anthropic_tool_use_blocks_are_counted_server_tools_are_not() {
    // Two client tool_use blocks; server_tool_use (web search run by Anthropic) is not a tool
    // call of the caller; a text mentioning "tool_use" is content.
    let body = br#"{"id":"msg_t1","type":"message","model":"claude-q","content":[
        {"type":"text","text":"tool_use"},
        {"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{}},
        {"type":"tool_use","id":"toolu_1","name":"f","input":{"type":"tool_use"}},
        {"type":"tool_use","id":"toolu_2","name":"g","input":{}}],
      "usage":{"input_tokens":30,"output_tokens":12,"server_tool_use":{"web_search_requests":1}}}"#;
    let li = one(Provider::Anthropic, None, body);
    assert_eq!((li.usage.tool_calls, li.usage.web_search_requests), (2, 1));
}

#[test]
fn anthropic_one_hour_breakdown_survives_a_delta_without_it() {
    // message_start: 3913 written, all at the 1-hour TTL. message_delta repeats the total but
    // not the breakdown: replace-not-add keeps the 1-hour split.
    let stream = lines(&[
        r#"{"type":"message_start","message":{"model":"claude-q","id":"msg_h1","type":"message","role":"assistant","content":[],
           "usage":{"input_tokens":13,"cache_creation_input_tokens":3913,"cache_read_input_tokens":0,
                    "cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":3913},"output_tokens":1,
                    "service_tier":"standard","inference_geo":"global"}}}"#,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Django"}}"#,
        r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"input_tokens":13,"cache_creation_input_tokens":3913,"cache_read_input_tokens":0,"output_tokens":4}}"#,
    ]);
    let li = one(Provider::Anthropic, None, &stream);
    assert_eq!(counts(&li), (13, 0, 0, 3913, 4));
    assert_eq!(li.usage.inference_geo.as_deref(), Some("global"));
}

// ---------------------------------------------------------------------------------- Gemini

#[test]
fn gemini_usage_only_chunk_closes_a_stream() {
    // A stream whose only chunk reports usage (no candidates): it is the final report.
    // tokensIn = 12 + 65 tool-use − 4 cached = 73; out = 71 + 89 thoughts = 160.
    let sse = b"data: {\"usageMetadata\":{\"promptTokenCount\":12,\"candidatesTokenCount\":71,\"totalTokenCount\":237,\"cachedContentTokenCount\":4,\"toolUsePromptTokenCount\":65,\"thoughtsTokenCount\":89,\"serviceTier\":\"standard\"}}\n\n";
    let li = one(Provider::Gemini, Some("gemini-q"), sse);
    assert_eq!(counts(&li), (73, 4, 0, 0, 160));
    assert_eq!(li.usage.reasoning_tokens, 89);
}

#[test]
fn gemini_thoughts_inside_candidates_when_the_total_says_so() {
    // totalTokenCount 130 = prompt 100 + candidates 30: the 20 thoughts are already inside
    // the candidates count, so tokensOut = 30 (not 50).
    let inside = br#"{"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"STOP"}],
      "usageMetadata":{"promptTokenCount":100,"candidatesTokenCount":30,"thoughtsTokenCount":20,"totalTokenCount":130},"modelVersion":"gemini-q"}"#;
    let li = one(Provider::Gemini, None, inside);
    assert_eq!(counts(&li), (100, 0, 0, 0, 30));
    assert_eq!(li.usage.reasoning_tokens, 20);
    // totalTokenCount 150 = 100 + 30 + 20: thoughts are outside and added: 50.
    let outside = br#"{"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"STOP"}],
      "usageMetadata":{"promptTokenCount":100,"candidatesTokenCount":30,"thoughtsTokenCount":20,"totalTokenCount":150},"modelVersion":"gemini-q"}"#;
    assert_eq!(counts(&one(Provider::Gemini, None, outside)).4, 50);
}

#[test]
fn gemini_streamed_function_calls_count_once_per_named_call() {
    // Streamed arguments: a call starts with a named functionCall, then argument pieces
    // (partialArgs) and an empty closing part name none. Two named starts: 2 calls.
    // Vertex trafficType ON_DEMAND is the default tier. 26 + 23 + 132 = 181 = total: thoughts
    // outside, tokensOut = 23 + 132 = 155.
    let stream = lines(&[
        r#"{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"getWeather","willContinue":true},"thoughtSignature":"c2ln"}]}}],"usageMetadata":{"trafficType":"ON_DEMAND"},"modelVersion":"gemini-q","responseId":"r-g1"}"#,
        r#"{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"partialArgs":[{"jsonPath":"$.city","stringValue":"Oslo","willContinue":true}],"willContinue":true}}]}}],"usageMetadata":{"trafficType":"ON_DEMAND"},"modelVersion":"gemini-q","responseId":"r-g1"}"#,
        r#"{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{}}]}}],"usageMetadata":{"trafficType":"ON_DEMAND"},"modelVersion":"gemini-q","responseId":"r-g1"}"#,
        r#"{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"getWeather","willContinue":true}}]}}],"usageMetadata":{"trafficType":"ON_DEMAND"},"modelVersion":"gemini-q","responseId":"r-g1"}"#,
        r#"{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{}}]},"finishReason":"STOP"}],
           "usageMetadata":{"promptTokenCount":26,"candidatesTokenCount":23,"totalTokenCount":181,"trafficType":"ON_DEMAND","thoughtsTokenCount":132},"modelVersion":"gemini-q","responseId":"r-g1"}"#,
    ]);
    let li = one(Provider::Gemini, None, &stream);
    assert_eq!(counts(&li), (26, 0, 0, 0, 155));
    assert_eq!(li.usage.tool_calls, 2);
    assert_eq!(li.served_tier, Some(ServiceTier::Standard));
}

#[test]
fn gemini_grounding_queries_are_counted_once_each() {
    // Grounding metadata on two chunks repeats "q one": distinct queries are "q one", "q two",
    // "q three" = 3 web searches. An empty query string is no search.
    let stream = lines(&[
        r#"{"candidates":[{"content":{"parts":[{"text":"a"}]},"groundingMetadata":{"webSearchQueries":["q one","q two"]}}],"usageMetadata":{"promptTokenCount":10},"modelVersion":"gemini-q"}"#,
        r#"{"candidates":[{"content":{"parts":[{"text":"b"}]},"finishReason":"STOP","groundingMetadata":{"webSearchQueries":["q one","q three",""],
           "groundingChunks":[{"web":{"uri":"https://example.test","title":"t"}}]}}],
           "usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":5,"toolUsePromptTokenCount":40,"totalTokenCount":55},"modelVersion":"gemini-q"}"#,
    ]);
    let li = one(Provider::Gemini, None, &stream);
    // tokensIn = 10 + 40 tool-use = 50.
    assert_eq!(counts(&li), (50, 0, 0, 0, 5));
    assert_eq!(li.usage.web_search_requests, 3);
}

#[test]
fn vertex_traffic_type_is_the_served_tier() {
    for (traffic, tier) in [
        ("ON_DEMAND_PRIORITY", ServiceTier::Priority),
        ("ON_DEMAND_FLEX", ServiceTier::Flex),
        ("ON_DEMAND", ServiceTier::Standard),
    ] {
        let body = format!(
            r#"{{"candidates":[{{"content":{{"parts":[{{"text":"x"}}]}},"finishReason":"STOP"}}],"usageMetadata":{{"promptTokenCount":3,"candidatesTokenCount":1,"trafficType":"{traffic}"}},"modelVersion":"gemini-q"}}"#
        );
        let li = one(Provider::Gemini, None, body.as_bytes());
        assert_eq!(li.served_tier, Some(tier), "{traffic}");
        assert!(li.warnings.is_empty(), "{traffic}: {:?}", li.warnings);
    }
}

// --------------------------------------------------------------------------------- Bedrock

#[test]
fn bedrock_tool_use_blocks_are_counted() {
    // Converse body: two toolUse blocks among the content.
    let body = br#"{"metrics":{"latencyMs":2000},"output":{"message":{"content":[{"text":"Sure"},
        {"toolUse":{"input":{"ref":"R1"},"name":"f","toolUseId":"tooluse_a","type":"tool_use"}},
        {"toolUse":{"input":{"ref":"C1"},"name":"g","toolUseId":"tooluse_b","type":"tool_use"}}],"role":"assistant"}},
      "stopReason":"tool_use","usage":{"inputTokens":694,"outputTokens":110,"totalTokens":804}}"#;
    let li = one(Provider::Bedrock, Some("br-model"), body);
    assert_eq!(counts(&li), (694, 0, 0, 0, 110));
    assert_eq!(li.usage.tool_calls, 2);
    // ConverseStream as the SDKs yield it: one contentBlockStart with a toolUse; the metadata
    // event may come before messageStop.
    let stream = lines(&[
        r#"{"contentBlockStart":{"contentBlockIndex":0,"start":{"toolUse":{"toolUseId":"tu-1","name":"f"}}}}"#,
        r#"{"contentBlockDelta":{"contentBlockIndex":0,"delta":{"toolUse":{"input":"{\"v\":1}"}}}}"#,
        r#"{"contentBlockStop":{"contentBlockIndex":0}}"#,
        r#"{"metadata":{"usage":{"inputTokens":125,"outputTokens":45,"totalTokens":170},"metrics":{"latencyMs":234}}}"#,
        r#"{"messageStop":{"stopReason":"tool_use"}}"#,
    ]);
    let li = one(Provider::Bedrock, Some("br-model"), &stream);
    assert_eq!(counts(&li), (125, 0, 0, 0, 45));
    assert_eq!(li.usage.tool_calls, 1);
}

#[test]
fn bedrock_cache_ttl_spellings() {
    // 300 written: 200 at "PT1H" (1 hour), 100 at "T5M" (5 minutes).
    let body = br#"{"output":{"message":{"content":[{"text":"x"}]}},"usage":{"inputTokens":10,"outputTokens":5,
      "cacheWriteInputTokens":300,"cacheDetails":[{"inputTokens":200,"ttl":"PT1H"},{"inputTokens":100,"ttl":"T5M"}],"totalTokens":315}}"#;
    assert_eq!(
        counts(&one(Provider::Bedrock, Some("br-model"), body)),
        (10, 0, 100, 200, 5)
    );
    let bad = br#"{"usage":{"inputTokens":10,"outputTokens":5,"cacheWriteInputTokens":3,"cacheDetails":[{"inputTokens":3,"ttl":"2d"}]}}"#;
    let e = extract(Provider::Bedrock, Some("br-model"), bad).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidUsage);
}

#[test]
fn bedrock_input_tokens_counting_the_cache_are_detected_by_the_total() {
    // Usual Bedrock: totalTokens 1329 = 2 + 5 + 1322 written: inputTokens excludes the cache.
    let exclusive = br#"{"usage":{"inputTokens":2,"outputTokens":5,"cacheWriteInputTokens":1322,"cacheReadInputTokens":0,"totalTokens":1329}}"#;
    assert_eq!(
        counts(&one(Provider::Bedrock, Some("br-model"), exclusive)),
        (2, 0, 1322, 0, 5)
    );
    // totalTokens 1329 = inputTokens 1324 + 5: here inputTokens already holds the 1322 read
    // tokens, so the fresh input is 1324 − 1322 = 2.
    let inclusive = br#"{"usage":{"inputTokens":1324,"outputTokens":5,"cacheReadInputTokens":1322,"totalTokens":1329}}"#;
    assert_eq!(
        counts(&one(Provider::Bedrock, Some("br-model"), inclusive)),
        (2, 1322, 0, 0, 5)
    );
    // A total that leaves the cache out while inputTokens (2) is smaller than the cache
    // cannot mean an inclusive input: it stays 2.
    let short_total = br#"{"usage":{"inputTokens":2,"outputTokens":5,"cacheWriteInputTokens":1322,"totalTokens":7}}"#;
    assert_eq!(
        counts(&one(Provider::Bedrock, Some("br-model"), short_total)),
        (2, 0, 1322, 0, 5)
    );
}

// ------------------------------------------- Bedrock InvokeModelWithResponseStream chunks

/// One AWS event-stream message with correct CRCs.
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

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
}

/// Anthropic Messages events as Bedrock InvokeModelWithResponseStream sends them: each one
/// base64-encoded in a `chunk` event's `{"bytes": …}`, with Bedrock's random `"p"` padding
/// field (before or after `bytes`).
fn invoke_stream(events: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, e) in events.iter().enumerate() {
        let pad = "abcdefghijklmnop".get(..k % 7 + 1).unwrap_or("a");
        let payload = if k % 2 == 0 {
            format!(r#"{{"bytes":"{}","p":"{pad}"}}"#, b64(e))
        } else {
            format!(r#"{{"p":"{pad}", "bytes":"{}"}}"#, b64(e))
        };
        out.extend(frame("chunk", "event", payload.as_bytes()));
    }
    out
}

const INVOKE_EVENTS: [&str; 7] = [
    r#"{"type":"message_start","message":{"model":"claude-q-4-5","id":"msg_bd1","type":"message","role":"assistant","content":[],"usage":{"input_tokens":3,"cache_creation_input_tokens":1956,"cache_read_input_tokens":9511,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":1956},"output_tokens":1}}}"#,
    r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
    r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a longer piece of generated text to make this event span many base64 groups"}}"#,
    r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_b1","name":"lookup","input":{}}}"#,
    r#"{"type":"content_block_stop","index":1}"#,
    r#"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":44}}"#,
    r#"{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":3,"outputTokenCount":44,"invocationLatency":1200,"firstByteLatency":300,"cacheReadInputTokenCount":9511,"cacheWriteInputTokenCount":1956}}"#,
];

#[test]
fn anthropic_through_invoke_model_with_response_stream() {
    let body = invoke_stream(&INVOKE_EVENTS);
    // Anthropic rules on the decoded events: 3 fresh, 9511 read, 1956 written at the 1-hour
    // TTL (message_start's breakdown), 44 out (message_delta replaces 1), one tool_use.
    let li = one(Provider::Anthropic, None, &body);
    assert_eq!(counts(&li), (3, 9511, 0, 1956, 44));
    assert_eq!(li.usage.tool_calls, 1);
    assert_eq!(
        (li.model.as_str(), li.response_id.as_deref()),
        ("claude-q-4-5", Some("msg_bd1"))
    );
    // Every split point gives the same (chunks end inside frames, base64 groups, escapes).
    for size in [1, 2, 3, 7, 64] {
        let mut acc = Accumulator::new(Provider::Anthropic, None).unwrap();
        for c in body.chunks(size) {
            acc.feed(c).unwrap();
        }
        assert_eq!(acc.finish().unwrap(), vec![li.clone()], "chunks of {size}");
    }
    // Read as Bedrock: the same counts, on the caller's Bedrock model id.
    let items = both_ways(Provider::Bedrock, Some("us.anthropic.claude-q-4-5"), &body);
    assert_eq!(items.len(), 1);
    assert_eq!(counts(&items[0]), (3, 9511, 0, 1956, 44));
    assert_eq!(items[0].model, "us.anthropic.claude-q-4-5");
}

#[test]
fn invoke_stream_chunks_handed_over_as_json_lines() {
    // The SDKs yield {"chunk": {"bytes": …}}; serialised, the bytes are base64.
    let mut jl = String::new();
    for e in INVOKE_EVENTS {
        jl.push_str(&format!(r#"{{"chunk":{{"bytes":"{}"}}}}"#, b64(e)));
        jl.push('\n');
    }
    let li = one(Provider::Anthropic, None, jl.as_bytes());
    assert_eq!(counts(&li), (3, 9511, 0, 1956, 44));
}

#[test]
fn invoke_stream_of_another_model_uses_the_invocation_metrics() {
    // A non-Anthropic model's chunks (untyped events): the usage is the invocation metrics on
    // the last chunk. 120 fresh input (cache excluded, as in Converse), 7 read, 30 out.
    let body = invoke_stream(&[
        r#"{"messageStart":{"role":"assistant"}}"#,
        r#"{"contentBlockDelta":{"delta":{"text":"hi"},"contentBlockIndex":0}}"#,
        r#"{"messageStop":{"stopReason":"end_turn"},"amazon-bedrock-invocationMetrics":{"inputTokenCount":120,"outputTokenCount":30,"invocationLatency":800,"firstByteLatency":100,"cacheReadInputTokenCount":7}}"#,
    ]);
    let li = one(Provider::Bedrock, Some("us.vendor.model-v1:0"), &body);
    assert_eq!(counts(&li), (120, 7, 0, 0, 30));
}

#[test]
fn invoke_stream_base64_with_escaped_slashes_and_bad_base64() {
    // A JSON writer may escape '/' as '\/' inside the base64 text.
    let ev = r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":5}}"#;
    let start = r#"{"type":"message_start","message":{"id":"msg_s","model":"claude-q","usage":{"input_tokens":2,"output_tokens":1}}}"#;
    let mut body = frame(
        "chunk",
        "event",
        format!(r#"{{"bytes":"{}"}}"#, b64(start).replace('/', "\\/")).as_bytes(),
    );
    body.extend(frame(
        "chunk",
        "event",
        format!(r#"{{"bytes":"{}"}}"#, b64(ev).replace('/', "\\/")).as_bytes(),
    ));
    assert_eq!(
        counts(&one(Provider::Anthropic, None, &body)),
        (2, 0, 0, 0, 5)
    );
    for bad in [
        r#"{"bytes":"e30"}"#,      // length not a multiple of 4
        r#"{"bytes":"e3!="}"#,     // not base64
        r#"{"bytes":"e30=e30="}"#, // text after padding
        r#"{"bytes":12}"#,         // not a string
        r#"{"bytes":"e30=""#,      // object not closed
    ] {
        let e = extract(
            Provider::Anthropic,
            None,
            &frame("chunk", "event", bad.as_bytes()),
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Malformed, "{bad}: {e}");
    }
}

#[test]
fn bedrock_raw_event_stream_counts_tool_use_starts() {
    let mut body = frame("messageStart", "event", br#"{"role":"assistant"}"#);
    for k in 0..2 {
        body.extend(frame(
            "contentBlockStart",
            "event",
            format!(r#"{{"contentBlockIndex":{k},"start":{{"toolUse":{{"toolUseId":"tu-{k}","name":"f"}}}}}}"#)
                .as_bytes(),
        ));
    }
    body.extend(frame(
        "metadata",
        "event",
        br#"{"metrics":{"latencyMs":9},"usage":{"inputTokens":40,"outputTokens":12,"totalTokens":52}}"#,
    ));
    let li = one(Provider::Bedrock, Some("br-model"), &body);
    assert_eq!(counts(&li), (40, 0, 0, 0, 12));
    assert_eq!(li.usage.tool_calls, 2);
}

#[test]
fn gemini_server_side_search_tool_calls_count_their_queries() {
    // Gemini 3 with server-side tool invocations shown: a toolCall part lists the search
    // queries; the grounding metadata repeats one of them. Distinct queries: 2. A toolCall is
    // the provider's own tool, not a function call of the caller: toolCalls stays 0.
    // 9 + 41 + 37 = 87 = total: thoughts outside, tokensOut = 41 + 37 = 78.
    let stream = lines(&[
        r#"{"candidates":[{"content":{"parts":[{"thoughtSignature":"c2ln","toolCall":{"toolType":"GOOGLE_SEARCH_WEB","args":{"queries":["largest city a","largest city b"]},"id":"tc1"}}],"role":"model"},"index":0}],
           "usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":41,"totalTokenCount":87,"thoughtsTokenCount":37,"serviceTier":"standard"},"modelVersion":"gemini-q","responseId":"r-s1"}"#,
        r#"{"candidates":[{"content":{"parts":[{"text":"Answer."}],"role":"model"},"finishReason":"STOP","index":0,"groundingMetadata":{"webSearchQueries":["largest city b"]}}],
           "usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":41,"totalTokenCount":87,"thoughtsTokenCount":37,"serviceTier":"standard"},"modelVersion":"gemini-q","responseId":"r-s1"}"#,
    ]);
    let li = one(Provider::Gemini, None, &stream);
    assert_eq!(counts(&li), (9, 0, 0, 0, 78));
    assert_eq!((li.usage.web_search_requests, li.usage.tool_calls), (2, 0));
}

#[test]
fn transcription_usage_names_its_details_input_token_details() {
    // gpt-4o-transcribe: usage {type: tokens, input_tokens 14 (audio 10, text 4), output 45}.
    let body = br#"{"text":"hello there","usage":{"type":"tokens","input_tokens":14,
      "input_token_details":{"text_tokens":4,"audio_tokens":10},"output_tokens":45,"total_tokens":59}}"#;
    let li = one(Provider::OpenAi, Some("gpt-4o-transcribe"), body);
    assert_eq!(counts(&li), (14, 0, 0, 0, 45));
    assert_eq!(li.usage.audio_tokens_in, 10);
}

#[test]
fn gemini_top_level_service_tier_is_a_fallback() {
    let body = br#"{"service_tier":"priority","candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"STOP"}],
      "usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":1,"totalTokenCount":6},"modelVersion":"gemini-q"}"#;
    assert_eq!(
        one(Provider::Gemini, None, body).served_tier,
        Some(ServiceTier::Priority)
    );
}

#[test]
fn moonshot_usage_inside_the_choice_and_top_level_cached_tokens() {
    // Kimi's finish chunk carries the usage inside choices[0]; with include_usage a top-level
    // usage chunk follows, and it wins. cached_tokens sits at the top of the usage.
    // 90 prompt, all 90 cached: tokensIn 0.
    let both = lines(&[
        r#"{"id":"k-1","object":"chat.completion.chunk","model":"kimi-q","choices":[{"index":0,"delta":{"content":"OK"},"finish_reason":null}]}"#,
        r#"{"id":"k-1","object":"chat.completion.chunk","model":"kimi-q","choices":[{"index":0,"delta":{},"finish_reason":"stop",
           "usage":{"prompt_tokens":90,"completion_tokens":40,"total_tokens":130,"cached_tokens":80}}]}"#,
        r#"{"id":"k-1","object":"chat.completion.chunk","model":"kimi-q","choices":[],
           "usage":{"prompt_tokens":90,"completion_tokens":50,"total_tokens":140,"cached_tokens":90,"completion_tokens_details":{"reasoning_tokens":33}}}"#,
    ]);
    let li = one(Provider::OpenAiCompatible, None, &both);
    assert_eq!(counts(&li), (0, 90, 0, 0, 50));
    assert_eq!(li.usage.reasoning_tokens, 33);
    // Without include_usage the choice's usage is the only one: 12 in, 5 out (1 reasoning).
    let choice_only = lines(&[
        r#"{"id":"k-2","object":"chat.completion.chunk","model":"kimi-q","choices":[{"index":0,"delta":{"content":"OK"},"finish_reason":null}]}"#,
        r#"{"id":"k-2","object":"chat.completion.chunk","model":"kimi-q","choices":[{"index":0,"delta":{},"finish_reason":"stop",
           "usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17,"completion_tokens_details":{"reasoning_tokens":1}}}]}"#,
    ]);
    let li = one(Provider::OpenAiCompatible, None, &choice_only);
    assert_eq!(counts(&li), (12, 0, 0, 0, 5));
    assert_eq!(li.usage.reasoning_tokens, 1);
}

#[test]
fn anthropic_message_start_that_already_holds_the_whole_message() {
    // Prepopulated content: message_start carries the finished message (a stop_reason and a
    // tool_use block) and the stream ends with message_stop; its usage is the final one.
    let stream = lines(&[
        r#"{"type":"message_start","message":{"id":"msg_pre","type":"message","role":"assistant","model":"claude-q",
           "content":[{"type":"code_execution_tool_result","tool_use_id":"srvtoolu_1","content":{"type":"code_execution_result","stdout":"x","stderr":"","return_code":0,"content":[]}},
                      {"type":"tool_use","id":"toolu_f","name":"lookup","input":{"id":"c1"}}],
           "stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":0,"output_tokens":0,"server_tool_use":{"web_search_requests":0}}}}"#,
        r#"{"type":"message_stop"}"#,
    ]);
    let li = one(Provider::Anthropic, None, &stream);
    assert_eq!(counts(&li), (0, 0, 0, 0, 0));
    assert_eq!(li.usage.tool_calls, 1);
    // A message_start without a stop reason is only the start: a stream cut there is still
    // "no final usage".
    let cut = lines(&[
        r#"{"type":"message_start","message":{"id":"msg_c","model":"claude-q","content":[],"stop_reason":null,"usage":{"input_tokens":5,"output_tokens":1}}}"#,
    ]);
    let e = extract(Provider::Anthropic, None, &cut).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoUsage);
}
