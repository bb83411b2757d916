//! SHA-1 URNs (`urn:sha1:` + 32 base32 characters), the identity of a shared file.
//!
//! Hits carry the URN, downloads ask for it (`/uri-res/N2R?urn:sha1:...`) and verify it,
//! so this is the one content identity every layer agrees on (PROTOCOL.md §2.9, §5.3).

use std::fmt;
use std::io::Read;

use sha1::{Digest, Sha1 as Sha1Hasher};

/// The 20-byte SHA-1 digest of a file.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha1(pub [u8; 20]);

const PREFIX: &str = "urn:sha1:";

/// Bytes of `urn:sha1:` and 32 base32 digits.
pub const URN_LEN: usize = 9 + 32;

impl Sha1 {
    /// Digest of an in-memory byte string.
    pub fn of_bytes(data: &[u8]) -> Sha1 {
        Sha1(Sha1Hasher::digest(data).into())
    }

    /// Digest of everything a reader yields, streamed in 64 KiB chunks.
    pub fn of_reader<R: Read>(mut reader: R) -> std::io::Result<Sha1> {
        let mut hasher = Sha1Hasher::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(Sha1(hasher.finalize().into()))
    }

    /// The 32-character RFC 4648 base32 form (upper case, no padding).
    pub fn to_base32(&self) -> String {
        data_encoding::BASE32_NOPAD.encode(&self.0)
    }

    /// Parses 32 base32 characters, case-insensitively.
    pub fn from_base32(s: &str) -> Option<Sha1> {
        if s.len() != 32 {
            return None;
        }
        let upper = s.to_ascii_uppercase();
        let bytes = data_encoding::BASE32_NOPAD.decode(upper.as_bytes()).ok()?;
        Some(Sha1(bytes.try_into().ok()?))
    }

    /// `urn:sha1:XXXX...` as sent on the wire.
    pub fn to_urn(&self) -> String {
        String::from_utf8_lossy(&self.urn_bytes()).into_owned()
    }

    /// [`Sha1::to_urn`]'s bytes, on the stack: every record of every QueryHit we encode
    /// carries one, and formatting a `String` for it cost three allocations.
    pub fn urn_bytes(&self) -> [u8; URN_LEN] {
        let mut urn = [0u8; URN_LEN];
        let (prefix, digits) = urn.split_at_mut(PREFIX.len());
        prefix.copy_from_slice(PREFIX.as_bytes());
        // 20 bytes are always 32 base32 digits: the lengths match.
        data_encoding::BASE32_NOPAD.encode_mut(&self.0, digits);
        urn
    }

    /// Parses `urn:sha1:<32 base32>` (prefix case-insensitive), or the SHA-1 half of
    /// `urn:bitprint:<32 sha1>.<39 tiger>`.
    pub fn from_urn(s: &str) -> Option<Sha1> {
        let lower_prefix = |p: &str| s.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p));
        if lower_prefix(PREFIX) {
            return Sha1::from_base32(&s[PREFIX.len()..]);
        }
        const BITPRINT: &str = "urn:bitprint:";
        if lower_prefix(BITPRINT) {
            let rest = &s[BITPRINT.len()..];
            return rest.get(..32).and_then(Sha1::from_base32);
        }
        None
    }
}

impl fmt::Display for Sha1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_urn())
    }
}

impl fmt::Debug for Sha1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha1({})", self.to_base32())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_urn_matches_protocol_digest() {
        // PROTOCOL.md §2.9: the empty file's URN.
        let urn = Sha1::of_bytes(b"").to_urn();
        assert_eq!(urn, "urn:sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ");
        assert_eq!(Sha1::of_bytes(b"").urn_bytes(), urn.as_bytes());
        assert_eq!(Sha1::from_urn(&urn), Some(Sha1::of_bytes(b"")));
        assert_eq!(
            Sha1::from_urn("URN:SHA1:3i42h3s6nnfq2msvx7xzkyayscx5qbyj"),
            Some(Sha1::of_bytes(b""))
        );
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(Sha1::from_urn("urn:sha1:SHORT"), None);
        assert_eq!(
            Sha1::from_urn("urn:md5:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ"),
            None
        );
        assert_eq!(
            Sha1::from_urn("urn:sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBY1"),
            None
        );
        assert_eq!(Sha1::from_urn("ü"), None);
    }

    #[test]
    fn reader_matches_bytes() {
        let data = vec![7u8; 200_000];
        assert_eq!(Sha1::of_reader(&data[..]).unwrap(), Sha1::of_bytes(&data));
    }
}
