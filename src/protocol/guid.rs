//! 16-byte identifiers: descriptor MUIDs and servent GUIDs.
//!
//! Real servents treat MUIDs as opaque on input (PROTOCOL.md §1.2), so this type carries no
//! meaning beyond equality; we only mark fresh ones the harmless "modern" way.

use std::fmt;

use rand::Rng;

/// A 16-byte message or servent identifier, compared as opaque bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    /// A fresh random GUID from the caller's (seeded) RNG, with byte 8 = 0xFF and byte 15 = 0
    /// as the 0.6 draft suggests; no real servent checks these marks.
    pub fn random<R: Rng + ?Sized>(rng: &mut R) -> Guid {
        let mut bytes = [0u8; 16];
        rng.fill(&mut bytes[..]);
        bytes[8] = 0xFF;
        bytes[15] = 0;
        Guid(bytes)
    }

    /// Lower-case hex, 32 characters (the form used in `GIV` lines and reports).
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(32);
        for b in self.0 {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }

    /// Parses exactly 32 hex digits, case-insensitively (no sign, no separators).
    pub fn from_hex(s: &str) -> Option<Guid> {
        let s = s.as_bytes();
        if s.len() != 32 || !s.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        let mut out = [0u8; 16];
        for (i, pair) in s.chunks(2).enumerate() {
            let text = std::str::from_utf8(pair).ok()?;
            out[i] = u8::from_str_radix(text, 16).ok()?;
        }
        Some(Guid(out))
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guid({})", self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn hex_round_trip_and_seeded() {
        let mut a = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut b = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let g = Guid::random(&mut a);
        assert_eq!(g, Guid::random(&mut b));
        assert_eq!(Guid::from_hex(&g.to_hex()), Some(g));
        assert_eq!(Guid::from_hex(&g.to_hex().to_uppercase()), Some(g));
        assert_eq!(Guid::from_hex("zz"), None);
        assert_eq!(Guid::from_hex(&format!("+f{}", &g.to_hex()[2..])), None);
        assert_eq!(g.0[8], 0xFF);
    }
}
