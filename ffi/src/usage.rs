//! Usage extraction: one-shot (`tg_usage_extract`) and the streaming accumulator handle
//! (`tg_stream`).

use crate::boundary::{
    Failure, FfiResult, OutBuf, borrow_mut, boundary, boundary_value, handle_free, handle_new,
    handle_type, input_limited, input_str, require_out, write_out,
};
use crate::error::tg_error;
use crate::status::*;
use tollgate_engine::event::MAX_NAME_BYTES;
use tollgate_engine::extract::{self, Accumulator, ErrorKind, ExtractError, LineItem, Provider};

/// Largest response body `tg_usage_extract` and `tg_track_response` accept, in bytes.
/// Longer responses can be fed to a `tg_stream` in chunks.
pub const TG_MAX_BODY_BYTES: usize = 64 << 20;
/// Largest chunk one `tg_stream_feed` call accepts, in bytes (a stream may have any number).
pub const TG_MAX_CHUNK_BYTES: usize = 64 << 20;
/// Longest provider name, in bytes.
pub const TG_MAX_PROVIDER_BYTES: usize = 64;

pub(crate) fn extract_failure(e: &ExtractError) -> Failure {
    let status = match e.kind() {
        ErrorKind::NoUsage => TG_ERR_NO_USAGE,
        ErrorKind::InvalidUtf8 => TG_ERR_INVALID_UTF8,
        ErrorKind::TooLarge => TG_ERR_LIMIT,
        _ => TG_ERR_INVALID_INPUT,
    };
    Failure::owned(status, format!("{}: {e}", e.kind().as_str()))
}

/// Reads the `(provider, model)` arguments shared by extraction entry points.
///
/// # Safety
/// Both pairs follow the `(pointer, length)` input contract.
pub(crate) unsafe fn provider_and_model<'a>(
    provider: *const u8,
    provider_len: usize,
    model: *const u8,
    model_len: usize,
) -> FfiResult<(Provider, Option<&'a str>)> {
    // SAFETY: forwarded contract.
    let (name, model) = unsafe {
        (
            input_str(provider, provider_len, TG_MAX_PROVIDER_BYTES, "provider")?,
            input_str(model, model_len, MAX_NAME_BYTES, "model")?,
        )
    };
    let provider = Provider::parse(name).ok_or_else(|| {
        Failure::owned(
            TG_ERR_INVALID_INPUT,
            format!(
                "provider: unknown provider \"{}\" (expected openai, anthropic, bedrock, gemini or openai_compatible)",
                name.chars().take(64).collect::<String>()
            ),
        )
    })?;
    Ok((provider, (!model.is_empty()).then_some(model)))
}

/// `{"lineItems":[…]}` in the shape of `tollgate usage`.
pub(crate) fn line_items_json(items: &[LineItem]) -> String {
    let mut s = String::with_capacity(64 + 400 * items.len());
    s.push_str("{\"lineItems\":[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&item.to_json());
    }
    s.push_str("]}");
    s
}

/// Reads the usage off one whole provider response and writes
/// `{"lineItems":[{provider, model, tokensIn, cachedTokens, cacheWrite5mTokens,
/// cacheWrite1hTokens, tokensOut, reasoningTokens, audioTokensIn, audioTokensOut,
/// imageTokensIn, imageTokensOut, webSearchRequests, serviceTier, responseId, …}]}` (the
/// output of `tollgate usage`; `reasoningTokens` is null when the provider gave no breakdown).
///
/// `provider` is `openai`, `anthropic`, `bedrock`, `gemini` or `openai_compatible`. `model`
/// (may be `(NULL, 0)`) is the model the caller requested: required for Bedrock Converse,
/// a fallback for the others. `body` is the raw response: a JSON body, SSE text, JSON Lines
/// of stream payloads or AWS event-stream bytes (detected), at most `TG_MAX_BODY_BYTES`.
/// No prompt or completion text is kept or echoed.
///
/// Returns `TG_OK`; `TG_ERR_NULL`; `TG_ERR_LIMIT`; `TG_ERR_INVALID_UTF8`;
/// `TG_ERR_INVALID_INPUT` (unknown provider, malformed or truncated response, wrong
/// provider, missing model; the message starts with the extraction error kind, e.g.
/// `truncated:`); `TG_ERR_NO_USAGE`; `TG_ERR_BUFFER_TOO_SMALL`.
/// Thread-safety: any thread; needs no engine.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_usage_extract(
    provider: *const u8,
    provider_len: usize,
    model: *const u8,
    model_len: usize,
    body: *const u8,
    body_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        // SAFETY: documented contracts of the arguments.
        let ((provider, model), body, out) = unsafe {
            (
                provider_and_model(provider, provider_len, model, model_len)?,
                input_limited(body, body_len, TG_MAX_BODY_BYTES, "body")?,
                OutBuf::new(out, out_cap, out_len)?,
            )
        };
        let items = extract::extract(provider, model, body).map_err(|e| extract_failure(&e))?;
        out.write(line_items_json(&items).as_bytes())
    })
}

enum StreamState {
    Open(Box<Accumulator>),
    Finished(Result<Vec<LineItem>, ExtractError>),
    /// Only while `finish` moves the accumulator out.
    Taken,
}

/// A streaming usage reader: feed the response's bytes as they arrive (chunks may split
/// lines, events, JSON values and UTF-8 characters anywhere), then finish. Memory stays
/// bounded however long the content is; no content is kept.
///
/// Thread-safety: **one thread at a time** (it may move between threads). Lifetime: owned by
/// the caller from `tg_stream_new` until `tg_stream_free`; independent of any engine.
pub struct tg_stream {
    _opaque: [u8; 0],
}
handle_type!(tg_stream => StreamObject, 3, "tg_stream_free");

/// What a `tg_stream` handle points to.
pub struct StreamObject {
    state: StreamState,
}

impl StreamObject {
    /// Finishes once; later calls see the same result.
    pub(crate) fn finish(&mut self) -> FfiResult<&[LineItem]> {
        if matches!(self.state, StreamState::Open(_))
            && let StreamState::Open(acc) = std::mem::replace(&mut self.state, StreamState::Taken)
        {
            self.state = StreamState::Finished(acc.finish());
        }
        match &self.state {
            StreamState::Finished(Ok(items)) => Ok(items),
            StreamState::Finished(Err(e)) => Err(extract_failure(e)),
            // Only after an internal error interrupted an earlier finish.
            _ => Err(Failure::new(
                TG_ERR_PANIC,
                "tg_stream: unusable after an earlier internal error",
            )),
        }
    }
}

/// Creates a stream reader for `provider`'s responses (see `tg_usage_extract` for `provider`
/// and `model`).
///
/// Returns `TG_OK`; `TG_ERR_NULL`; `TG_ERR_LIMIT`; `TG_ERR_INVALID_UTF8`;
/// `TG_ERR_INVALID_INPUT`. Ownership: the caller owns `*out` and releases it with
/// `tg_stream_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_stream_new(
    provider: *const u8,
    provider_len: usize,
    model: *const u8,
    model_len: usize,
    out: *mut *mut tg_stream,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        require_out(out, "out")?;
        // SAFETY: documented contracts of the arguments.
        let (provider, model) =
            unsafe { provider_and_model(provider, provider_len, model, model_len)? };
        let acc = Accumulator::new(provider, model).map_err(|e| extract_failure(&e))?;
        let stream = StreamObject {
            state: StreamState::Open(Box::new(acc)),
        };
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, handle_new::<tg_stream>(stream)?) };
        Ok(())
    })
}

/// Feeds the next chunk (`(pointer, length)`, at most `TG_MAX_CHUNK_BYTES`; `(NULL, 0)` is
/// a valid empty chunk). After a failure every later feed and finish returns the same error.
///
/// Returns `TG_OK`; `TG_ERR_NULL`; `TG_ERR_INVALID_HANDLE`; `TG_ERR_LIMIT`;
/// `TG_ERR_INVALID_UTF8`; `TG_ERR_INVALID_INPUT`; `TG_ERR_MISUSE` (after `tg_stream_finish`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_stream_feed(
    stream: *mut tg_stream,
    chunk: *const u8,
    chunk_len: usize,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        // SAFETY: documented contracts of the arguments.
        let (stream, chunk) = unsafe {
            (
                borrow_mut(stream)?,
                input_limited(chunk, chunk_len, TG_MAX_CHUNK_BYTES, "chunk")?,
            )
        };
        match &mut stream.state {
            StreamState::Open(acc) => acc.feed(chunk).map_err(|e| extract_failure(&e)),
            _ => Err(Failure::new(
                TG_ERR_MISUSE,
                "tg_stream: already finished; create a new stream for the next response",
            )),
        }
    })
}

/// Ends the input and writes the line items as `tg_usage_extract` does. May be called again
/// (e.g. with a bigger buffer after `TG_ERR_BUFFER_TOO_SMALL`): the result is computed once.
///
/// Returns `TG_OK`; `TG_ERR_NULL`; `TG_ERR_INVALID_HANDLE`; `TG_ERR_INVALID_INPUT` (e.g.
/// `truncated:` for a stream cut before its final usage); `TG_ERR_INVALID_UTF8`;
/// `TG_ERR_LIMIT`; `TG_ERR_NO_USAGE`; `TG_ERR_BUFFER_TOO_SMALL`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_stream_finish(
    stream: *mut tg_stream,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        // SAFETY: documented contracts of the arguments.
        let (stream, out) = unsafe { (borrow_mut(stream)?, OutBuf::new(out, out_cap, out_len)?) };
        let items = stream.finish()?;
        out.write(line_items_json(items).as_bytes())
    })
}

/// Frees a stream. `tg_stream_free(NULL)` is a no-op; the stream must not be used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_stream_free(stream: *mut tg_stream) {
    boundary_value((), || {
        // SAFETY: documented contract: NULL or a live stream not in use.
        unsafe { handle_free(stream) }
    })
}
