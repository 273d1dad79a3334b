//! The usage paths: which values of a provider payload are read (SPEC §5).
//!
//! One static tree, the union of every provider's interesting paths ([`ROOT`]): the JSON
//! scanner ([`super::frame::json`]) follows it while it validates a payload and copies only
//! the values found on it ([`Cap`]) or counts them ([`Ctr`]). The provider rules
//! ([`super::rules`]) read the captured values. This module is data only.

/// What a captured value is used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cap {
    Id,
    Model,
    Object,
    Type,
    ServiceTier,
    Usage,
    XGroqUsage,
    WebSearch,
    RespId,
    RespModel,
    RespServiceTier,
    RespUsage,
    RespWebSearch,
    MsgId,
    MsgModel,
    MsgUsage,
    ErrType,
    ErrCode,
    ErrStatus,
    UsageMetadata,
    ModelVersion,
    ResponseId,
    FinishReason,
    BlockReason,
    MetaUsage,
    TierType,
    MetaTierType,
    /// A Bedrock ConverseStream exception event (`{"throttlingException": {...}}`).
    Exception,
    /// `payload.usage` of a decoded event-stream message (`{"headers":…,"payload":…}`).
    PayloadUsage,
    /// `response.error.code` of a Responses `response.failed` event.
    RespErrCode,
    /// Bedrock InvokeModel stream metrics on the last chunk.
    InvocationMetrics,
    /// `bytes` / `chunk.bytes`: a base64 InvokeModelWithResponseStream chunk (JSON Lines form).
    Bytes,
    /// A Gemini payload has a (non-null) `candidates` list.
    Candidates,
    /// `choices[].usage`: Moonshot's finish chunk puts the usage inside the choice.
    ChoiceUsage,
    /// `message.stop_reason` is set: a `message_start` that already holds the whole message.
    MsgStopReason,
}

pub(crate) const N_CAPS: usize = Cap::MsgStopReason as usize + 1;

/// A per-payload counter, bumped while the payload streams by (counts of items whose content
/// is skipped: tool calls, web searches).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ctr {
    /// `choices[].message.tool_calls[]` elements and `choices[].message.function_call`.
    ChatToolCalls,
    /// `choices[].delta.tool_calls[].id` values (a streamed tool call's first delta).
    ChatDeltaIds,
    /// One more than the largest `choices[].delta.tool_calls[].index`.
    ChatDeltaIndex,
    /// Responses `output[]` / `response.output[]` items that are client tool calls.
    RespToolCalls,
    /// Responses `output[]` / `response.output[]` items of type `web_search_call`.
    RespWebSearch,
    /// Anthropic `content[]` blocks / `content_block` of type `tool_use`.
    AnthToolUse,
    /// Gemini `candidates[].content.parts[].functionCall.name` values.
    GemFunctionCalls,
    /// Gemini search queries (also hashed): `candidates[].groundingMetadata.webSearchQueries[]`
    /// and the `queries` of server-side `toolCall` parts.
    GemSearchQueries,
    /// Bedrock `toolUse` content blocks (Converse body, ConverseStream `contentBlockStart`).
    BedrockToolUse,
}

pub(crate) const N_CTRS: usize = Ctr::BedrockToolUse as usize + 1;

/// What a node counts.
#[derive(Clone, Copy)]
pub(crate) enum Tally {
    /// A non-null value.
    Present(Ctr),
    /// A string equal to one of these (unescaped) names bumps that name's counter.
    OneOf(&'static [(&'static [u8], Ctr)]),
    /// A non-negative integer `n`: the counter becomes at least `n + 1`.
    MaxPlusOne(Ctr),
    /// A non-empty string: counted, and its hash kept (for distinct counts).
    Hashed(Ctr),
}

/// One node of the static path tree.
pub(crate) struct Node {
    pub(crate) key: &'static [u8],
    pub(crate) cap: Option<Cap>,
    /// Record only that a non-null value is present (no bytes copied).
    pub(crate) presence: bool,
    pub(crate) tally: Option<Tally>,
    pub(crate) kids: &'static [Node],
    /// One bit per (length, first byte) of the kids' keys: most keys of an object are not
    /// on a path and are rejected by one test instead of a scan of the kids.
    pub(crate) filter: u64,
    pub(crate) elem: Option<&'static Node>,
}

/// The [`Node::filter`] bit of a key.
pub(crate) const fn filter_bit(key: &[u8]) -> u64 {
    let first = if key.is_empty() { 0 } else { key[0] as usize };
    1u64 << ((key.len().wrapping_mul(7) ^ first) & 63)
}

const fn filter_of(kids: &[Node]) -> u64 {
    let mut f = 0u64;
    let mut i = 0;
    while i < kids.len() {
        f |= filter_bit(kids[i].key);
        i += 1;
    }
    f
}

const fn leaf(key: &'static [u8], cap: Cap) -> Node {
    Node {
        key,
        cap: Some(cap),
        presence: false,
        tally: None,
        kids: &[],
        filter: 0,
        elem: None,
    }
}

const fn flag(key: &'static [u8], cap: Cap) -> Node {
    Node {
        key,
        cap: Some(cap),
        presence: true,
        tally: None,
        kids: &[],
        filter: 0,
        elem: None,
    }
}

const fn branch(key: &'static [u8], kids: &'static [Node]) -> Node {
    Node {
        key,
        cap: None,
        presence: false,
        tally: None,
        kids,
        filter: filter_of(kids),
        elem: None,
    }
}

const fn counted(key: &'static [u8], tally: Tally) -> Node {
    Node {
        key,
        cap: None,
        presence: false,
        tally: Some(tally),
        kids: &[],
        filter: 0,
        elem: None,
    }
}

/// An array under `key` whose elements are read with `elem`.
const fn array(key: &'static [u8], elem: &'static Node) -> Node {
    Node {
        key,
        cap: None,
        presence: false,
        tally: None,
        kids: &[],
        filter: 0,
        elem: Some(elem),
    }
}

/// An array element (an object) read with `kids`.
const fn element(kids: &'static [Node]) -> Node {
    branch(b"", kids)
}

/// The union of every provider's interesting paths (each provider reads what it needs).
pub(crate) static ROOT: Node = branch(
    b"",
    &[
        leaf(b"id", Cap::Id),
        leaf(b"model", Cap::Model),
        leaf(b"object", Cap::Object),
        leaf(b"type", Cap::Type),
        leaf(b"service_tier", Cap::ServiceTier),
        leaf(b"usage", Cap::Usage),
        branch(b"x_groq", &[leaf(b"usage", Cap::XGroqUsage)]),
        branch(
            b"tool_usage",
            &[branch(
                b"web_search",
                &[leaf(b"num_requests", Cap::WebSearch)],
            )],
        ),
        array(b"choices", &CHOICE),
        Node {
            key: b"output",
            cap: None,
            presence: false,
            tally: None,
            kids: &[branch(b"message", &[array(b"content", &BEDROCK_BLOCK)])],
            filter: filter_bit(b"message"),
            elem: Some(&RESP_ITEM),
        },
        branch(
            b"response",
            &[
                leaf(b"id", Cap::RespId),
                leaf(b"model", Cap::RespModel),
                leaf(b"service_tier", Cap::RespServiceTier),
                leaf(b"usage", Cap::RespUsage),
                branch(
                    b"tool_usage",
                    &[branch(
                        b"web_search",
                        &[leaf(b"num_requests", Cap::RespWebSearch)],
                    )],
                ),
                array(b"output", &RESP_ITEM),
                branch(b"error", &[leaf(b"code", Cap::RespErrCode)]),
            ],
        ),
        branch(
            b"message",
            &[
                leaf(b"id", Cap::MsgId),
                leaf(b"model", Cap::MsgModel),
                leaf(b"usage", Cap::MsgUsage),
                flag(b"stop_reason", Cap::MsgStopReason),
                array(b"content", &ANTHROPIC_BLOCK),
            ],
        ),
        array(b"content", &ANTHROPIC_BLOCK),
        branch(b"content_block", &[counted(b"type", TOOL_USE)]),
        branch(
            b"error",
            &[
                leaf(b"type", Cap::ErrType),
                leaf(b"code", Cap::ErrCode),
                leaf(b"status", Cap::ErrStatus),
            ],
        ),
        leaf(b"usageMetadata", Cap::UsageMetadata),
        leaf(b"modelVersion", Cap::ModelVersion),
        leaf(b"responseId", Cap::ResponseId),
        Node {
            key: b"candidates",
            cap: Some(Cap::Candidates),
            presence: true,
            tally: None,
            kids: &[],
            filter: 0,
            elem: Some(&CANDIDATE),
        },
        branch(b"promptFeedback", &[flag(b"blockReason", Cap::BlockReason)]),
        branch(
            b"metadata",
            &[
                leaf(b"usage", Cap::MetaUsage),
                branch(b"serviceTier", &[leaf(b"type", Cap::MetaTierType)]),
            ],
        ),
        branch(b"serviceTier", &[leaf(b"type", Cap::TierType)]),
        branch(b"payload", &[leaf(b"usage", Cap::PayloadUsage)]),
        branch(
            b"contentBlockStart",
            &[branch(b"start", &[BEDROCK_TOOL_USE])],
        ),
        branch(b"start", &[BEDROCK_TOOL_USE]),
        leaf(b"amazon-bedrock-invocationMetrics", Cap::InvocationMetrics),
        leaf(b"bytes", Cap::Bytes),
        branch(b"chunk", &[leaf(b"bytes", Cap::Bytes)]),
        flag(b"internalServerException", Cap::Exception),
        flag(b"modelStreamErrorException", Cap::Exception),
        flag(b"validationException", Cap::Exception),
        flag(b"throttlingException", Cap::Exception),
        flag(b"serviceUnavailableException", Cap::Exception),
    ],
);

/// Anthropic's client tool call block type.
const TOOL_USE: Tally = Tally::OneOf(&[(b"tool_use", Ctr::AnthToolUse)]);

/// Responses output item types: client-side tool calls, and web searches.
const RESP_ITEM_TYPES: Tally = Tally::OneOf(&[
    (b"function_call", Ctr::RespToolCalls),
    (b"custom_tool_call", Ctr::RespToolCalls),
    (b"computer_call", Ctr::RespToolCalls),
    (b"local_shell_call", Ctr::RespToolCalls),
    (b"shell_call", Ctr::RespToolCalls),
    (b"apply_patch_call", Ctr::RespToolCalls),
    (b"web_search_call", Ctr::RespWebSearch),
]);

static RESP_ITEM: Node = element(&[counted(b"type", RESP_ITEM_TYPES)]);

static ANTHROPIC_BLOCK: Node = element(&[counted(b"type", TOOL_USE)]);

const BEDROCK_TOOL_USE: Node = counted(b"toolUse", Tally::Present(Ctr::BedrockToolUse));

static BEDROCK_BLOCK: Node = element(&[BEDROCK_TOOL_USE]);

static CHOICE: Node = element(&[
    branch(
        b"message",
        &[
            array(b"tool_calls", &CHAT_TOOL_CALL),
            counted(b"function_call", Tally::Present(Ctr::ChatToolCalls)),
        ],
    ),
    branch(b"delta", &[array(b"tool_calls", &CHAT_DELTA_TOOL_CALL)]),
    leaf(b"usage", Cap::ChoiceUsage),
]);

static CHAT_TOOL_CALL: Node = Node {
    key: b"",
    cap: None,
    presence: false,
    tally: Some(Tally::Present(Ctr::ChatToolCalls)),
    kids: &[],
    filter: 0,
    elem: None,
};

static CHAT_DELTA_TOOL_CALL: Node = element(&[
    counted(b"id", Tally::Present(Ctr::ChatDeltaIds)),
    counted(b"index", Tally::MaxPlusOne(Ctr::ChatDeltaIndex)),
]);

static CANDIDATE: Node = element(&[
    flag(b"finishReason", Cap::FinishReason),
    branch(b"content", &[array(b"parts", &GEMINI_PART)]),
    branch(
        b"groundingMetadata",
        &[array(b"webSearchQueries", &GEMINI_QUERY)],
    ),
]);

static GEMINI_PART: Node = element(&[
    branch(
        b"functionCall",
        &[counted(b"name", Tally::Present(Ctr::GemFunctionCalls))],
    ),
    // A server-side tool invocation (Gemini 3 `includeServerSideToolInvocations`): a Google
    // Search call lists its queries.
    branch(
        b"toolCall",
        &[branch(b"args", &[array(b"queries", &GEMINI_QUERY)])],
    ),
]);

static GEMINI_QUERY: Node = counted(b"", Tally::Hashed(Ctr::GemSearchQueries));

/// Top-level array: each element is a payload read from [`ROOT`].
pub(crate) static STREAM_ARRAY: Node = array(b"", &ROOT);

/// Longest key in the tree; longer keys cannot match and are not buffered.
pub(crate) const MAX_KEY_BYTES: usize = 32;

#[cfg(test)]
mod tree_tests {
    use super::*;

    fn walk(n: &Node, out: &mut Vec<&'static [u8]>) {
        for k in n.kids {
            out.push(k.key);
            walk(k, out);
        }
        if let Some(e) = n.elem {
            walk(e, out);
        }
    }

    fn check_filters(n: &Node) {
        assert_eq!(
            n.filter,
            filter_of(n.kids),
            "{}",
            String::from_utf8_lossy(n.key)
        );
        for k in n.kids {
            check_filters(k);
        }
        if let Some(e) = n.elem {
            check_filters(e);
        }
    }

    #[test]
    fn every_node_filter_covers_its_kids() {
        check_filters(&ROOT);
    }

    #[test]
    fn every_path_key_fits_the_key_buffer() {
        let mut keys = Vec::new();
        walk(&ROOT, &mut keys);
        assert!(keys.len() > 30);
        for k in keys {
            assert!(k.len() <= MAX_KEY_BYTES, "{}", String::from_utf8_lossy(k));
        }
    }
}
