//! Ranges of the values users type: TTLs and search words.
//!
//! TTL: a descriptor with TTL 0 is never sent (PROTOCOL.md: a servent decrements TTL and
//! drops at 0), so a search, a relay limit (`max_ttl`) or a sweep entry of 0 means nothing;
//! the field is one byte, so 255 is the top. Search words: a query whose criteria hold no
//! letter or digit matches nothing anywhere (keywords are runs of letters and digits) yet
//! is flooded to every peer within reach, so it is refused before it is sent.

/// Smallest TTL a search or a relay limit may have.
pub const MIN_TTL: u8 = 1;
/// Largest TTL (the header field is one byte).
pub const MAX_TTL: u8 = 255;

/// Why a value was refused; the message states the accepted range.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("a TTL is a whole number from {MIN_TTL} to {MAX_TTL}, not {0}")]
    Ttl(String),
    #[error(
        "the search words {0:?} hold no keyword: give at least one word of letters or \
         digits, or a urn:sha1:..."
    )]
    BlankWords(String),
}

/// Checks a TTL already held as a byte (configs, specs): only 0 can be out of range.
pub fn check_ttl(ttl: u8) -> Result<u8, ValueError> {
    if ttl < MIN_TTL {
        return Err(ValueError::Ttl(ttl.to_string()));
    }
    Ok(ttl)
}

/// Parses a TTL typed by the user (a clap value parser): `1` to `255`.
pub fn parse_ttl(text: &str) -> Result<u8, ValueError> {
    let trimmed = text.trim();
    match trimmed.parse::<u64>() {
        Ok(v) if (u64::from(MIN_TTL)..=u64::from(MAX_TTL)).contains(&v) => Ok(v as u8),
        _ => Err(ValueError::Ttl(format!("{trimmed:?}"))),
    }
}

/// Checks search words: at least one letter or digit (a `urn:sha1:...` has plenty).
pub fn check_search_words(words: &str) -> Result<(), ValueError> {
    if words.chars().any(char::is_alphanumeric) {
        Ok(())
    } else {
        Err(ValueError::BlankWords(words.to_string()))
    }
}

/// A clap value parser for one search word or phrase.
pub fn search_words(text: &str) -> Result<String, ValueError> {
    check_search_words(text)?;
    Ok(text.to_string())
}

/// A TTL read from a config, spec or routing file: the same range and message as on the
/// command line (a bare `u8` would say "expected u8" for 300 and accept 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ttl(pub u8);

impl<'de> serde::Deserialize<'de> for Ttl {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Ttl, D::Error> {
        let value = i128::deserialize(deserializer)?;
        match u8::try_from(value) {
            Ok(ttl) if ttl >= MIN_TTL => Ok(Ttl(ttl)),
            _ => Err(serde::de::Error::custom(ValueError::Ttl(value.to_string()))),
        }
    }
}

/// `deserialize_with` for a TTL field.
pub fn ttl<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u8, D::Error> {
    <Ttl as serde::Deserialize>::deserialize(deserializer).map(|t| t.0)
}

/// `deserialize_with` for an optional TTL field (with `#[serde(default)]`).
pub fn opt_ttl<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u8>, D::Error> {
    <Option<Ttl> as serde::Deserialize>::deserialize(deserializer).map(|t| t.map(|t| t.0))
}

/// `deserialize_with` for a list of TTLs.
pub fn ttls<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    <Vec<Ttl> as serde::Deserialize>::deserialize(deserializer)
        .map(|v| v.into_iter().map(|t| t.0).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_range_is_one_to_255_in_every_form() {
        assert_eq!(parse_ttl("1"), Ok(1));
        assert_eq!(parse_ttl(" 255 "), Ok(255));
        for bad in ["0", "256", "300", "-1", "seven", "", "1.5"] {
            let err = parse_ttl(bad).unwrap_err().to_string();
            assert!(err.contains("from 1 to 255"), "{bad}: {err}");
        }
        assert!(check_ttl(0).is_err());
        assert_eq!(check_ttl(7), Ok(7));
        for bad in ["0", "300", "-2"] {
            let err = serde_json::from_str::<Ttl>(bad).unwrap_err().to_string();
            assert!(err.contains("from 1 to 255"), "{bad}: {err}");
        }
        assert_eq!(serde_json::from_str::<Ttl>("9").unwrap(), Ttl(9));
    }

    #[test]
    fn blank_words_are_refused_and_urns_pass() {
        for bad in ["", "   ", "\t", "!!! ---", "*"] {
            assert!(check_search_words(bad).is_err(), "{bad:?}");
        }
        for good in [
            "debian",
            " a ",
            "urn:sha1:PLSTHIPQGSSZTS5FJUPAKUZWUGYQYPFB",
            "été",
        ] {
            assert!(check_search_words(good).is_ok(), "{good:?}");
        }
    }
}
