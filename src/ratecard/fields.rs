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
