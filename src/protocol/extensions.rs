//! The extension area shared by Queries and hit records (PROTOCOL.md §2.3, §2.4, §2.9).
//!
//! Blocks are separated by 0x1C; a GGEP block is measured by its own structure because it
//! may contain 0x1C (and, in gtk-gnutella style queries, NUL). A Query's area may end with
//! one NUL (LimeWire style); a record's area is already cut at its NUL by the caller.
//! Decoding then encoding gives back the same bytes, except that a SHA-1 URN is written in
//! its canonical form (`urn:sha1:` + upper-case base32; a bitprint keeps only its SHA-1).

use bytes::{BufMut, Bytes, BytesMut};

use super::ggep;
use super::message::Extension;
use super::urn::{Sha1, URN_LEN};

/// Separates extension blocks (ASCII FS).
pub const SEPARATOR: u8 = 0x1C;

/// Why an extension area cannot be split into blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ExtensionError {
    #[error("a GGEP block is followed by bytes that are neither a separator nor the end")]
    JunkAfterGgep,
}

/// Splits `area` into blocks. With `allow_trailing_nul`, one final NUL is accepted and
/// reported as `true` in the result.
pub fn parse_area(
    area: &Bytes,
    allow_trailing_nul: bool,
) -> Result<(Vec<Extension>, bool), ExtensionError> {
    let len = area.len();
    let ends_with_nul = allow_trailing_nul && area.last() == Some(&0);
    // Text blocks stop before the final NUL; a GGEP block is measured on its own.
    let text_limit = if ends_with_nul { len - 1 } else { len };
    let is_final_nul = |pos: usize| ends_with_nul && pos + 1 == len;
    let mut extensions = Vec::new();
    if len == 0 {
        return Ok((extensions, false));
    }
    if is_final_nul(0) {
        return Ok((extensions, true));
    }
    let mut pos = 0usize;
    loop {
        let rest = area.get(pos..).unwrap_or_default();
        let ggep_len = if rest.first() == Some(&ggep::GGEP_MAGIC) {
            ggep::run_len(rest)
        } else {
            None
        };
        match ggep_len {
            Some(n) => {
                extensions.push(Extension::Ggep(area.slice(pos..pos + n)));
                pos += n;
                if pos < len && area.get(pos) != Some(&SEPARATOR) && !is_final_nul(pos) {
                    return Err(ExtensionError::JunkAfterGgep);
                }
            }
            None => {
                let window = area.get(pos..text_limit).unwrap_or_default();
                let end = window
                    .iter()
                    .position(|&b| b == SEPARATOR)
                    .map_or(text_limit, |i| pos + i);
                extensions.push(classify(area.slice(pos..end)));
                pos = end;
            }
        }
        if pos == len {
            return Ok((extensions, false));
        }
        if is_final_nul(pos) {
            return Ok((extensions, true));
        }
        // At a separator: another (possibly empty) block follows.
        pos += 1;
    }
}

/// Recognises SHA-1 URNs (`urn:sha1:`, `urn:bitprint:`, any case); everything else but
/// GGEP stays opaque.
fn classify(block: Bytes) -> Extension {
    match std::str::from_utf8(&block).ok().and_then(Sha1::from_urn) {
        Some(sha1) => Extension::Sha1(sha1),
        None => Extension::Other(block),
    }
}

/// The first SHA-1 among `extensions`: a HUGE `urn:sha1:` string, or else GGEP `H` (type
/// 0x01 SHA-1, 0x02 SHA-1 + TTH) or `u` (a HUGE URN without `urn:`), which real servents
/// may send instead of the string.
pub fn first_sha1(extensions: &[Extension]) -> Option<Sha1> {
    let huge = extensions.iter().find_map(|e| match e {
        Extension::Sha1(s) => Some(*s),
        _ => None,
    });
    huge.or_else(|| {
        extensions.iter().find_map(|e| match e {
            Extension::Ggep(block) => ggep_sha1(block),
            _ => None,
        })
    })
}

/// The SHA-1 in GGEP `H`, else in `u`; only those values are decoded (a peer's other
/// values, maybe deflated, are never inflated for this).
fn ggep_sha1(block: &[u8]) -> Option<Sha1> {
    let from_h = || match ggep::find(block, b"H")?.split_first() {
        Some((1 | 2, digest)) => digest.get(..20)?.try_into().ok().map(Sha1),
        _ => None,
    };
    let from_u = || {
        let data = ggep::find(block, b"u")?;
        let text = std::str::from_utf8(&data).ok()?;
        Sha1::from_urn(&format!("urn:{text}"))
    };
    from_h().or_else(from_u)
}

/// Bytes `write_area` produces for these blocks.
pub fn area_len(extensions: &[Extension]) -> usize {
    let blocks: usize = extensions.iter().map(block_len).sum();
    blocks + extensions.len().saturating_sub(1)
}

fn block_len(extension: &Extension) -> usize {
    match extension {
        Extension::Sha1(_) => URN_LEN,
        Extension::Ggep(b) | Extension::Other(b) => b.len(),
    }
}

/// Writes the blocks joined by separators, without any trailing NUL.
pub fn write_area(extensions: &[Extension], out: &mut BytesMut) {
    for (i, extension) in extensions.iter().enumerate() {
        if i > 0 {
            out.put_u8(SEPARATOR);
        }
        match extension {
            Extension::Sha1(sha1) => out.put_slice(&sha1.urn_bytes()),
            Extension::Ggep(b) | Extension::Other(b) => out.put_slice(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(bytes: &[u8], allow_nul: bool) -> (Vec<Extension>, bool) {
        let area = Bytes::copy_from_slice(bytes);
        let (exts, nul) = parse_area(&area, allow_nul).expect("valid area");
        let mut out = BytesMut::new();
        write_area(&exts, &mut out);
        if nul {
            out.put_u8(0);
        }
        assert_eq!(&out[..], bytes);
        assert_eq!(area_len(&exts) + usize::from(nul), bytes.len());
        (exts, nul)
    }

    #[test]
    fn ggep_may_hold_separators_and_nul() {
        let area = [b'<', b'x', b'>', 0x1C, 0xC3, 0x81, b'Z', 0x42, 0x1C, 0x00];
        let (exts, nul) = round_trip(&area, true);
        assert!(!nul, "the NUL belongs to the GGEP data");
        assert_eq!(exts.len(), 2);
        assert!(matches!(&exts[1], Extension::Ggep(g) if g.len() == 6));
    }

    #[test]
    fn trailing_nul_and_empty_blocks() {
        assert_eq!(round_trip(&[0], true), (vec![], true));
        let (exts, nul) = round_trip(b"urn:\x1c\x00", true);
        assert!(nul);
        assert_eq!(
            exts,
            vec![
                Extension::Other(Bytes::from_static(b"urn:")),
                Extension::Other(Bytes::new())
            ]
        );
        let (exts, _) = round_trip(b"a\x00b", false);
        assert_eq!(exts.len(), 1);
    }

    #[test]
    fn sha1_from_huge_or_ggep() {
        let digest = Sha1::of_bytes(b"");
        let mut h = vec![0xC3, 0x81, b'H', 0x55, 0x01];
        h.extend(digest.0);
        let ggep_h = Extension::Ggep(Bytes::from(h));
        assert_eq!(first_sha1(&[ggep_h]), Some(digest));
        let u = format!("sha1:{}", digest.to_base32());
        let mut block = vec![0xC3, 0x81, b'u', 0x40 | u.len() as u8];
        block.extend(u.bytes());
        assert_eq!(
            first_sha1(&[Extension::Ggep(Bytes::from(block))]),
            Some(digest)
        );
        assert_eq!(
            first_sha1(&[Extension::Other(Bytes::from_static(b"x"))]),
            None
        );
    }

    #[test]
    fn junk_after_ggep_is_refused() {
        let area = Bytes::from_static(&[0xC3, 0x81, b'Z', 0x40, b'x']);
        assert_eq!(parse_area(&area, true), Err(ExtensionError::JunkAfterGgep));
    }
}
