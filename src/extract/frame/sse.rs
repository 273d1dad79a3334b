//! Server-sent events framing (`text/event-stream`): `data:` lines carry JSON payloads,
//! `event:`, `id:`, `retry:` and `:` comment lines are skipped, a blank line ends an event.
//! Lines end in LF, CRLF or CR. `data: [DONE]` (OpenAI) ends nothing by itself and carries no
//! payload. Data bytes stream straight into the JSON scanner: nothing is buffered per line.

use super::json::JsonScanner;
use super::{Limits, Sink, feed_scanner};
use crate::extract::error::{ErrorKind, ExtractError};
use memchr::{memchr2, memchr3};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Line {
    /// At the first byte of a line.
    Start,
    /// Reading a field name.
    Field,
    /// After `data:`: an optional single space.
    Space,
    /// Inside a data value.
    Data,
    /// Inside a line that is skipped (comment, other field).
    Ignore,
}

const DONE: &[u8; 6] = b"[DONE]";

pub(crate) struct Sse {
    line: Line,
    line_bytes: usize,
    event_bytes: usize,
    field: [u8; 8],
    field_len: usize,
    pending_cr: bool,
    data_lines: usize,
    /// The first bytes of an event's data are held back while they could be `[DONE]`.
    prefix_len: usize,
    prefix_live: bool,
    limits: Limits,
}

impl Sse {
    pub(crate) fn new(limits: Limits) -> Sse {
        Sse {
            line: Line::Start,
            line_bytes: 0,
            event_bytes: 0,
            field: [0; 8],
            field_len: 0,
            pending_cr: false,
            data_lines: 0,
            prefix_len: 0,
            prefix_live: false,
            limits,
        }
    }

    pub(crate) fn feed(
        &mut self,
        bytes: &[u8],
        off: u64,
        scanner: &mut JsonScanner,
        sink: &mut Sink<'_>,
    ) -> Result<(), ExtractError> {
        let n = bytes.len();
        let mut i = 0usize;
        while i < n {
            if self.pending_cr {
                self.pending_cr = false;
                if bytes[i] == b'\n' {
                    i += 1;
                    continue;
                }
            }
            match self.line {
                Line::Start => {
                    let b = bytes[i];
                    if b == b'\n' || b == b'\r' {
                        self.dispatch(off + i as u64, scanner)?;
                        self.end_line(b);
                        i += 1;
                    } else if b == b':' {
                        self.line = Line::Ignore;
                    } else {
                        self.line = Line::Field;
                        self.field_len = 0;
                    }
                }
                Line::Field => {
                    let rest = &bytes[i..];
                    let stop = memchr3(b':', b'\n', b'\r', rest);
                    let part = &rest[..stop.unwrap_or(rest.len())];
                    self.count_line(part.len(), off + i as u64)?;
                    let room = self.field.len() - self.field_len.min(self.field.len());
                    let keep = part.len().min(room);
                    if keep > 0 {
                        self.field[self.field_len..self.field_len + keep]
                            .copy_from_slice(&part[..keep]);
                    }
                    self.field_len += part.len();
                    let Some(k) = stop else {
                        i = n;
                        continue;
                    };
                    i += k;
                    let is_data =
                        &self.field[..self.field_len.min(8)] == b"data" && self.field_len == 4;
                    if bytes[i] == b':' {
                        self.count_line(1, off + i as u64)?;
                        self.line = if is_data { Line::Space } else { Line::Ignore };
                        i += 1;
                    } else {
                        // A field name alone on its line: an empty value.
                        if is_data {
                            self.data_line_start(off + i as u64, scanner, sink)?;
                            self.data_line_end(off + i as u64, scanner, sink)?;
                        }
                        self.end_line(bytes[i]);
                        i += 1;
                    }
                }
                Line::Space => {
                    if bytes[i] == b' ' {
                        self.count_line(1, off + i as u64)?;
                        i += 1;
                    }
                    self.line = Line::Data;
                    self.data_line_start(off + i as u64, scanner, sink)?;
                }
                Line::Data => {
                    let rest = &bytes[i..];
                    let stop = memchr2(b'\n', b'\r', rest);
                    let part = &rest[..stop.unwrap_or(rest.len())];
                    self.count_line(part.len(), off + i as u64)?;
                    self.data(part, off + i as u64, scanner, sink)?;
                    match stop {
                        None => i = n,
                        Some(k) => {
                            i += k;
                            self.data_line_end(off + i as u64, scanner, sink)?;
                            self.end_line(bytes[i]);
                            i += 1;
                        }
                    }
                }
                Line::Ignore => {
                    let rest = &bytes[i..];
                    let stop = memchr2(b'\n', b'\r', rest);
                    let len = stop.unwrap_or(rest.len());
                    self.count_line(len, off + i as u64)?;
                    match stop {
                        None => i = n,
                        Some(k) => {
                            i += k;
                            self.end_line(bytes[i]);
                            i += 1;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// End of input: a last line without a newline still counts; a half-read event is an
    /// error.
    pub(crate) fn finish(
        &mut self,
        off: u64,
        scanner: &mut JsonScanner,
        sink: &mut Sink<'_>,
    ) -> Result<(), ExtractError> {
        match self.line {
            Line::Data => self.data_line_end(off, scanner, sink)?,
            Line::Space => {
                self.data_line_start(off, scanner, sink)?;
                self.data_line_end(off, scanner, sink)?;
            }
            _ => {}
        }
        if scanner.in_value() {
            return Err(ExtractError::at(
                ErrorKind::Truncated,
                "the stream ends in the middle of an event (its JSON data is incomplete)",
                off,
            ));
        }
        Ok(())
    }

    fn end_line(&mut self, b: u8) {
        self.line = Line::Start;
        self.line_bytes = 0;
        self.pending_cr = b == b'\r';
    }

    fn count_line(&mut self, k: usize, at: u64) -> Result<(), ExtractError> {
        self.line_bytes += k;
        if self.line_bytes > self.limits.max_line_bytes {
            return Err(ExtractError::at(
                ErrorKind::TooLarge,
                format!(
                    "an SSE line is longer than the limit of {} bytes",
                    self.limits.max_line_bytes
                ),
                at,
            ));
        }
        Ok(())
    }

    fn data_line_start(
        &mut self,
        at: u64,
        scanner: &mut JsonScanner,
        sink: &mut Sink<'_>,
    ) -> Result<(), ExtractError> {
        if self.data_lines > 0 {
            // Data lines of one event are joined with a line feed (JSON whitespace).
            self.event_bytes += 1;
            feed_scanner(scanner, b"\n", at, sink)?;
        } else {
            self.prefix_live = true;
            self.prefix_len = 0;
        }
        self.data_lines += 1;
        Ok(())
    }

    fn data(
        &mut self,
        part: &[u8],
        at: u64,
        scanner: &mut JsonScanner,
        sink: &mut Sink<'_>,
    ) -> Result<(), ExtractError> {
        self.event_bytes += part.len();
        if self.event_bytes > self.limits.max_event_bytes {
            return Err(ExtractError::at(
                ErrorKind::TooLarge,
                format!(
                    "an SSE event's data is longer than the limit of {} bytes",
                    self.limits.max_event_bytes
                ),
                at,
            ));
        }
        let mut k = 0;
        while self.prefix_live && k < part.len() {
            if self.prefix_len < DONE.len() && part[k] == DONE[self.prefix_len] {
                self.prefix_len += 1;
                k += 1;
            } else {
                self.flush_prefix(at, scanner, sink)?;
            }
        }
        if k < part.len() {
            feed_scanner(scanner, &part[k..], at + k as u64, sink)?;
        }
        Ok(())
    }

    fn flush_prefix(
        &mut self,
        at: u64,
        scanner: &mut JsonScanner,
        sink: &mut Sink<'_>,
    ) -> Result<(), ExtractError> {
        self.prefix_live = false;
        let held = &DONE[..self.prefix_len];
        if !held.is_empty() {
            feed_scanner(scanner, held, at, sink)?;
        }
        Ok(())
    }

    fn data_line_end(
        &mut self,
        at: u64,
        scanner: &mut JsonScanner,
        sink: &mut Sink<'_>,
    ) -> Result<(), ExtractError> {
        if self.prefix_live {
            if self.prefix_len == DONE.len() {
                // `data: [DONE]`: the end marker, not a payload.
                self.prefix_live = false;
            } else {
                self.flush_prefix(at, scanner, sink)?;
            }
        }
        Ok(())
    }

    /// A blank line ends the event: its data must have been whole JSON values.
    fn dispatch(&mut self, at: u64, scanner: &mut JsonScanner) -> Result<(), ExtractError> {
        if self.data_lines > 0 && scanner.in_value() {
            return Err(ExtractError::at(
                ErrorKind::Malformed,
                "an SSE event ended before its JSON data was complete",
                at,
            ));
        }
        self.data_lines = 0;
        self.event_bytes = 0;
        self.prefix_live = false;
        Ok(())
    }
}
