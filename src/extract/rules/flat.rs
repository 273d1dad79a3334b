//! A small reader of the JSON objects and arrays the scanner captured (usage objects and the
//! detail objects inside them), for the provider readers' `#[derive(Deserialize)]` structs of
//! raw fields.
//!
//! The text it reads was already validated as JSON by the scanner, so it only has to split
//! an object into members (and an array into elements) and hand each member's value text
//! over as a [`Raw`] borrowed from the input: no value is parsed twice, no allocation is made
//! (a key written with escapes is decoded, the rare case). It is a [`serde::Deserializer`],
//! so the structs keep serde's field matching: `rename`, `alias`, unknown keys ignored, and a
//! key that appears twice reported as serde's `duplicate field` error. A `null` member reads
//! as an absent field (as serde's `Option` does).
//!
//! Text that is not a JSON object (which the scanner never hands over) is an error, never a
//! panic.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::forward_to_deserialize_any;
use std::borrow::Cow;
use std::fmt;

/// A JSON value's text (no surrounding whitespace), borrowed from the captured input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Raw<'a>(&'a str);

impl<'a> Raw<'a> {
    /// The value's JSON text, trimmed of surrounding whitespace.
    pub(crate) fn new(text: &'a str) -> Raw<'a> {
        Raw(text.trim_matches(is_ws_char))
    }

    /// The value's JSON text.
    pub(crate) fn get(self) -> &'a str {
        self.0
    }
}

impl<'de: 'a, 'a> de::Deserialize<'de> for Raw<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Raw<'a>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Raw<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Raw<'de>, E> {
                Ok(Raw(v))
            }
        }
        d.deserialize_str(V)
    }
}

/// Why an object could not be read (serde's `duplicate field` message, or a shape error).
#[derive(Debug)]
pub(crate) struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Error {
        Error(msg.to_string())
    }
}

fn shape() -> Error {
    Error("not a JSON object".to_string())
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn is_ws_char(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_ws(b[i]) {
        i += 1;
    }
    i
}

/// The end (exclusive) of the string whose opening quote is at `i`, and whether it holds an
/// escape.
fn string_end(b: &[u8], i: usize) -> Option<(usize, bool)> {
    let mut j = i + 1;
    let mut escaped = false;
    loop {
        j += memchr::memchr2(b'"', b'\\', b.get(j..)?)?;
        if b[j] == b'"' {
            return Some((j + 1, escaped));
        }
        escaped = true;
        j += 2;
    }
}

/// The end (exclusive) of the value starting at `i`.
fn value_end(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => string_end(b, i).map(|(end, _)| end),
        open @ (b'{' | b'[') => {
            // In valid JSON the matching bracket is found by counting this kind of bracket
            // only (outside strings).
            let close = if open == b'{' { b'}' } else { b']' };
            let mut depth = 0usize;
            let mut j = i;
            loop {
                j += memchr::memchr3(b'"', open, close, b.get(j..)?)?;
                match b[j] {
                    b'"' => {
                        j = string_end(b, j)?.0;
                        continue;
                    }
                    c if c == open => depth += 1,
                    _ => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                }
                j += 1;
            }
        }
        b',' | b'}' | b']' | b':' => None,
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b':') && !is_ws(b[j]) {
                j += 1;
            }
            Some(j)
        }
    }
}

/// Splits the members of an object or the elements of an array.
struct Items<'a> {
    text: &'a str,
    pos: usize,
    close: u8,
    first: bool,
}

impl<'a> Items<'a> {
    /// `text` must start with `open` (`{` or `[`).
    fn new(text: &'a str, open: u8) -> Option<Items<'a>> {
        (text.as_bytes().first() == Some(&open)).then_some(Items {
            text,
            pos: 1,
            close: if open == b'{' { b'}' } else { b']' },
            first: true,
        })
    }

    /// Moves to the next item: `Ok(false)` at the closing bracket.
    fn advance(&mut self) -> Result<bool, Error> {
        let b = self.text.as_bytes();
        let mut i = skip_ws(b, self.pos);
        match b.get(i) {
            Some(&c) if c == self.close => {
                self.pos = i + 1;
                return Ok(false);
            }
            Some(b',') if !self.first => i = skip_ws(b, i + 1),
            Some(_) if self.first => {}
            _ => return Err(shape()),
        }
        self.first = false;
        self.pos = i;
        Ok(true)
    }

    /// The value at the current position.
    fn value(&mut self) -> Result<Raw<'a>, Error> {
        let b = self.text.as_bytes();
        let start = self.pos;
        let end = value_end(b, start).ok_or_else(shape)?;
        self.pos = end;
        Ok(Raw(&self.text[start..end]))
    }

    /// The key at the current position (decoded), and moves past its colon.
    fn key(&mut self) -> Result<Cow<'a, str>, Error> {
        let b = self.text.as_bytes();
        let start = self.pos;
        if b.get(start) != Some(&b'"') {
            return Err(shape());
        }
        let (end, escaped) = string_end(b, start).ok_or_else(shape)?;
        let key = if escaped {
            Cow::Owned(decode_key(&self.text[start..end])?)
        } else {
            Cow::Borrowed(self.text.get(start + 1..end - 1).ok_or_else(shape)?)
        };
        let colon = skip_ws(b, end);
        if b.get(colon) != Some(&b':') {
            return Err(shape());
        }
        self.pos = skip_ws(b, colon + 1);
        Ok(key)
    }
}

#[cold]
fn decode_key(quoted: &str) -> Result<String, Error> {
    serde_json::from_str::<String>(quoted).map_err(|_| shape())
}

/// The elements of a JSON array's text (`None` when it is not an array).
pub(crate) fn elements(text: &str) -> Result<Vec<Raw<'_>>, Error> {
    let mut items = Items::new(text, b'[').ok_or_else(shape)?;
    let mut out = Vec::new();
    while items.advance()? {
        out.push(items.value()?);
    }
    Ok(out)
}

/// The value of the last member named `key` of a JSON object's text (`None` when absent or
/// when the text is not an object).
pub(crate) fn member<'a>(text: &'a str, key: &str) -> Option<Raw<'a>> {
    let mut items = Items::new(text, b'{')?;
    let mut found = None;
    while items.advance().ok()? {
        let k = items.key().ok()?;
        let v = items.value().ok()?;
        if k == key {
            found = Some(v);
        }
    }
    found
}

/// Reads a JSON object's text into `T` (a struct of raw fields).
pub(crate) fn object<'a, T: de::Deserialize<'a>>(text: &'a str) -> Result<T, Error> {
    let items = Items::new(text, b'{').ok_or_else(shape)?;
    T::deserialize(Object(items))
}

struct Object<'a>(Items<'a>);

impl<'de> Deserializer<'de> for Object<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_map(Members(self.0))
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

struct Members<'a>(Items<'a>);

impl<'de> MapAccess<'de> for Members<'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        if !self.0.advance()? {
            return Ok(None);
        }
        let key = self.0.key()?;
        seed.deserialize(Key(key)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let v = self.0.value()?;
        seed.deserialize(Value(v))
    }
}

struct Key<'a>(Cow<'a, str>);

impl<'de> Deserializer<'de> for Key<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Cow::Borrowed(s) => visitor.visit_borrowed_str(s),
            Cow::Owned(s) => visitor.visit_string(s),
        }
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

struct Value<'a>(Raw<'a>);

impl<'de> Deserializer<'de> for Value<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_borrowed_str(self.0.0)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.0.0 == "null" {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier
    }
}

#[cfg(test)]
mod tests {
    use super::{Raw, elements, member, object};
    use serde::Deserialize;

    #[derive(Deserialize, Default, Debug, PartialEq)]
    struct T<'a> {
        #[serde(borrow)]
        a: Option<Raw<'a>>,
        #[serde(borrow, alias = "bee")]
        b: Option<Raw<'a>>,
        #[serde(rename = "cC", borrow)]
        c: Option<Raw<'a>>,
    }

    fn raw(s: &str) -> Option<Raw<'_>> {
        Some(Raw::new(s))
    }

    #[test]
    fn members_are_the_value_texts_as_in_the_input() {
        let text = r#"{ "a" : 12 , "x":{"y":[1,{"z":"}"}]},"bee":{"k": "v\"}"} ,"cC":[ 1, 2 ] }"#;
        let t: T<'_> = object(text).unwrap();
        assert_eq!(t.a, raw("12"));
        assert_eq!(t.b, raw(r#"{"k": "v\"}"}"#));
        assert_eq!(t.c, raw("[ 1, 2 ]"));
        // null reads as absent; an escaped key is decoded.
        let t: T<'_> = object(r#"{"a":null,"\u0062":true}"#).unwrap();
        assert_eq!(
            t,
            T {
                a: None,
                b: raw("true"),
                c: None
            }
        );
        assert_eq!(object::<T<'_>>("{}").unwrap(), T::default());
    }

    #[test]
    fn a_key_twice_is_serdes_duplicate_field_error() {
        for text in [
            r#"{"a":1,"a":2}"#,
            r#"{"a":null,"a":2}"#,
            r#"{"b":1,"bee":2}"#,
        ] {
            let e = object::<T<'_>>(text).unwrap_err().to_string();
            assert!(e.starts_with("duplicate field `"), "{text}: {e}");
        }
    }

    #[test]
    fn broken_text_is_an_error_not_a_panic() {
        for text in [
            "",
            "[",
            "{",
            r#"{"a"}"#,
            r#"{"a":1,}"#,
            r#"{"a":1 "b":2}"#,
            "{\"a",
            "{1:2}",
        ] {
            assert!(object::<T<'_>>(text).is_err(), "{text}");
        }
        assert!(elements("{}").is_err());
        assert!(elements("[1,").is_err());
    }

    #[test]
    fn arrays_and_single_members() {
        let e = elements(r#"[ {"a":1} , "x" ,3]"#).unwrap();
        assert_eq!(
            e,
            vec![Raw::new(r#"{"a":1}"#), Raw::new(r#""x""#), Raw::new("3")]
        );
        assert!(elements("[]").unwrap().is_empty());
        // The last of duplicate members, as a map would keep.
        assert_eq!(member(r#"{"k":1,"j":{"k":5},"k":2}"#, "k"), raw("2"));
        assert_eq!(member(r#"{"j":1}"#, "k"), None);
        assert_eq!(member("[1]", "k"), None);
    }
}
