//! The grammar of registry price-key names.
//!
//! A token price key is `<base>[_above_1hr|_above_12hr][_above_<N>[k]_tokens][_<suffix>]`, e.g.
//! `cache_creation_input_token_cost_above_1hr_above_200k_tokens` or
//! `input_cost_per_token_above_272k_tokens_priority`. Parsing the name once, at load time, lets
//! the price tables be compiled with structured lookups instead of string formatting.

/// Largest accepted context threshold in a key name (`_above_<N>_tokens`), in tokens.
pub const MAX_THRESHOLD_TOKENS: u64 = 1 << 53;

/// The token bucket a price key prices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Base {
    /// `input_cost_per_token`
    Input,
    /// `output_cost_per_token`
    Output,
    /// `cache_read_input_token_cost`
    CacheRead,
    /// `cache_creation_input_token_cost`
    CacheWrite,
    /// `output_cost_per_reasoning_token`
    Reasoning,
    /// `input_cost_per_audio_token`
    AudioIn,
    /// `output_cost_per_audio_token`
    AudioOut,
    /// `input_cost_per_image_token`
    ImageIn,
    /// `output_cost_per_image_token`
    ImageOut,
    /// `cache_read_input_audio_token_cost`
    CacheReadAudio,
    /// `cache_read_input_image_token_cost`
    CacheReadImage,
    /// `input_cost_per_video_token`
    VideoIn,
    /// `output_cost_per_video_token`
    VideoOut,
}

const BASES: [(&str, Base); 13] = [
    ("input_cost_per_token", Base::Input),
    ("output_cost_per_token", Base::Output),
    ("cache_read_input_token_cost", Base::CacheRead),
    ("cache_creation_input_token_cost", Base::CacheWrite),
    ("output_cost_per_reasoning_token", Base::Reasoning),
    ("input_cost_per_audio_token", Base::AudioIn),
    ("output_cost_per_audio_token", Base::AudioOut),
    ("input_cost_per_image_token", Base::ImageIn),
    ("output_cost_per_image_token", Base::ImageOut),
    ("cache_read_input_audio_token_cost", Base::CacheReadAudio),
    ("cache_read_input_image_token_cost", Base::CacheReadImage),
    ("input_cost_per_video_token", Base::VideoIn),
    ("output_cost_per_video_token", Base::VideoOut),
];

/// LiteLLM's price fields that are not token rates (per second, per image, per character,
/// per query, …) and token-rate variants it defines but the engine does not use
/// (`_decisions`, `_cache_hit`, DBU rates): every such field of LiteLLM 1.110.2's registry.
const KNOWN_OTHER_PRICES: [&str; 63] = [
    "annotation_cost_per_page",
    "annotation_cost_per_page_batches",
    "cache_creation_input_audio_token_cost",
    "cache_creation_input_token_cost_above_272k_tokens_decisions",
    "cache_creation_input_token_cost_decisions",
    "cache_read_input_token_cost_above_272k_tokens_decisions",
    "cache_read_input_token_cost_decisions",
    "citation_cost_per_token",
    "code_interpreter_cost_per_session",
    "computer_use_input_cost_per_1k_tokens",
    "computer_use_output_cost_per_1k_tokens",
    "cost_per_second",
    "explicit_cache_read_input_token_cost",
    "file_search_cost_per_1k_calls",
    "file_search_cost_per_gb_per_day",
    "google_maps_grounding_cost_per_query",
    "guardrail_cost_per_unit",
    "input_cost_per_audio_per_second",
    "input_cost_per_audio_per_second_above_128k_tokens",
    "input_cost_per_character",
    "input_cost_per_character_above_128k_tokens",
    "input_cost_per_image",
    "input_cost_per_image_above_128k_tokens",
    "input_cost_per_pixel",
    "input_cost_per_query",
    "input_cost_per_request",
    "input_cost_per_second",
    "input_cost_per_text_message",
    "input_cost_per_token_above_272k_tokens_decisions",
    "input_cost_per_token_cache_hit",
    "input_cost_per_token_decisions",
    "input_cost_per_video_per_second",
    "input_cost_per_video_per_second_above_128k_tokens",
    "input_cost_per_video_per_second_above_15s_interval",
    "input_cost_per_video_per_second_above_8s_interval",
    "input_dbu_cost_per_token",
    "ocr_cost_per_credit",
    "ocr_cost_per_page",
    "ocr_cost_per_page_batches",
    "output_cost_per_character",
    "output_cost_per_character_above_128k_tokens",
    "output_cost_per_image",
    "output_cost_per_image_0.5K",
    "output_cost_per_image_1024",
    "output_cost_per_image_1536",
    "output_cost_per_image_1K",
    "output_cost_per_image_2K",
    "output_cost_per_image_4K",
    "output_cost_per_image_512",
    "output_cost_per_pixel",
    "output_cost_per_second",
    "output_cost_per_second_1080p",
    "output_cost_per_second_2k",
    "output_cost_per_second_480p",
    "output_cost_per_second_4k",
    "output_cost_per_second_720p",
    "output_cost_per_second_768p",
    "output_cost_per_token_above_272k_tokens_decisions",
    "output_cost_per_token_decisions",
    "output_cost_per_video_per_second",
    "output_dbu_cost_per_token",
    "search_context_cost_per_query",
    "vector_store_cost_per_gb_per_day",
];

/// Whether `name` is one of LiteLLM's price fields that are not token rates (see
/// [`KNOWN_OTHER_PRICES`]).
pub(crate) fn is_known_other_price(name: &str) -> bool {
    KNOWN_OTHER_PRICES.contains(&name)
}

/// Cache-write lifetime of a `cache_creation_input_token_cost_above_<ttl>` key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Ttl {
    /// The standard (5-minute / default) write rate.
    Default,
    /// `_above_1hr`: 1-hour writes.
    OneHour,
    /// `_above_12hr`: 12-hour writes.
    TwelveHours,
}

/// The service-tier (or batch) suffix of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Suffix {
    /// No suffix: the standard rate.
    None,
    /// `_flex`
    Flex,
    /// `_priority`
    Priority,
    /// `_balanced`
    Balanced,
    /// `_ultrafast`
    Ultrafast,
    /// `_batches`
    Batches,
}

impl Suffix {
    const ALL: [(&'static str, Suffix); 5] = [
        ("_flex", Suffix::Flex),
        ("_priority", Suffix::Priority),
        ("_balanced", Suffix::Balanced),
        ("_ultrafast", Suffix::Ultrafast),
        ("_batches", Suffix::Batches),
    ];
}

/// A parsed token price key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct FieldId {
    pub base: Base,
    pub ttl: Ttl,
    /// `_above_<N>_tokens`: applies when the prompt exceeds `N` tokens.
    pub threshold: Option<u64>,
    pub suffix: Suffix,
}

impl FieldId {
    /// A plain key: no lifetime, no threshold, no suffix.
    pub const fn plain(base: Base) -> FieldId {
        FieldId {
            base,
            ttl: Ttl::Default,
            threshold: None,
            suffix: Suffix::None,
        }
    }

    /// The same key with another suffix.
    pub const fn with_suffix(self, suffix: Suffix) -> FieldId {
        FieldId { suffix, ..self }
    }

    /// The same key with another threshold.
    pub const fn with_threshold(self, threshold: Option<u64>) -> FieldId {
        FieldId { threshold, ..self }
    }

    /// Parses a registry key name. `None` for names outside the token-price grammar
    /// (per-second, per-image, per-character, `_cache_hit`, … keys), which are kept and
    /// reported but not used for token pricing.
    pub fn parse(name: &str) -> Option<FieldId> {
        let (base_name, base) = BASES.iter().find(|(n, _)| name.starts_with(n))?;
        let mut rest = &name[base_name.len()..];
        let mut ttl = Ttl::Default;
        if *base == Base::CacheWrite {
            if let Some(r) = rest.strip_prefix("_above_1hr") {
                ttl = Ttl::OneHour;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("_above_12hr") {
                ttl = Ttl::TwelveHours;
                rest = r;
            }
        }
        let mut threshold = None;
        if let Some(r) = rest.strip_prefix("_above_") {
            let digits_len = r.bytes().take_while(u8::is_ascii_digit).count();
            if digits_len == 0 || digits_len > 15 {
                return None;
            }
            let mut n: u64 = r[..digits_len].parse().ok()?;
            let mut r = &r[digits_len..];
            if let Some(after_k) = r.strip_prefix('k') {
                n = n.checked_mul(1000)?;
                r = after_k;
            }
            rest = r.strip_prefix("_tokens")?;
            if n > MAX_THRESHOLD_TOKENS {
                return None;
            }
            threshold = Some(n);
        }
        let suffix = if rest.is_empty() {
            Suffix::None
        } else {
            Suffix::ALL.iter().find(|(s, _)| *s == rest)?.1
        };
        Some(FieldId {
            base: *base,
            ttl,
            threshold,
            suffix,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_key_grammar() {
        assert_eq!(
            FieldId::parse("input_cost_per_token"),
            Some(FieldId::plain(Base::Input))
        );
        assert_eq!(
            FieldId::parse("input_cost_per_token_above_272k_tokens_priority"),
            Some(FieldId {
                base: Base::Input,
                ttl: Ttl::Default,
                threshold: Some(272_000),
                suffix: Suffix::Priority
            })
        );
        assert_eq!(
            FieldId::parse("cache_creation_input_token_cost_above_1hr_above_200k_tokens"),
            Some(FieldId {
                base: Base::CacheWrite,
                ttl: Ttl::OneHour,
                threshold: Some(200_000),
                suffix: Suffix::None
            })
        );
        assert_eq!(
            FieldId::parse("cache_creation_input_token_cost_above_12hr_batches"),
            Some(FieldId {
                base: Base::CacheWrite,
                ttl: Ttl::TwelveHours,
                threshold: None,
                suffix: Suffix::Batches
            })
        );
        assert_eq!(
            FieldId::parse("input_cost_per_token_above_128_tokens"),
            Some(FieldId::plain(Base::Input).with_threshold(Some(128)))
        );
        for other in [
            "input_cost_per_token_cache_hit",
            "input_cost_per_second",
            "input_cost_per_token_decisions",
            "output_cost_per_image_1K",
            "input_cost_per_token_above_x_tokens",
            "input_cost_per_token_above_200k",
        ] {
            assert_eq!(FieldId::parse(other), None, "{other}");
        }
    }
}
