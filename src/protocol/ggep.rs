//! Where a GGEP block ends (PROTOCOL.md §2.9).
//!
//! We keep GGEP opaque and forward it untouched, but we must know where it stops: in a
//! Query's extension area GGEP comes last and may contain the 0x1C separator (and, in
//! gtk-gnutella style queries, a NUL), so splitting on separators alone would cut it.

/// The byte that opens every GGEP block.
pub const GGEP_MAGIC: u8 = 0xC3;

const FLAG_LAST: u8 = 0x80;
const FLAG_RESERVED: u8 = 0x10;
const ID_LEN_MASK: u8 = 0x0F;
const LEN_MORE: u8 = 0x80;
const LEN_LAST: u8 = 0x40;
const LEN_BITS: u8 = 0x3F;
/// LimeWire rejects length fields of more than three 6-bit chunks.
const MAX_LEN_CHUNKS: usize = 3;

/// Length of the GGEP block at the start of `bytes` (magic, extensions up to the one
/// flagged last), or `None` when `bytes` does not start with a well-formed block.
pub fn block_len(bytes: &[u8]) -> Option<usize> {
    if bytes.first() != Some(&GGEP_MAGIC) {
        return None;
    }
    let mut pos = 1usize;
    loop {
        let flags = *bytes.get(pos)?;
        pos += 1;
        let id_len = usize::from(flags & ID_LEN_MASK);
        if flags & FLAG_RESERVED != 0 || id_len == 0 {
            return None;
        }
        pos += id_len;
        if pos > bytes.len() {
            return None;
        }
        let mut data_len = 0usize;
        let mut finished = false;
        for _ in 0..MAX_LEN_CHUNKS {
            let chunk = *bytes.get(pos)?;
            pos += 1;
            data_len = (data_len << 6) | usize::from(chunk & LEN_BITS);
            match chunk & (LEN_MORE | LEN_LAST) {
                LEN_LAST => {
                    finished = true;
                    break;
                }
                LEN_MORE => {}
                _ => return None,
            }
        }
        if !finished {
            return None;
        }
        pos = pos.checked_add(data_len)?;
        if pos > bytes.len() {
            return None;
        }
        if flags & FLAG_LAST != 0 {
            return Some(pos);
        }
    }
}

/// Length of the run of back-to-back GGEP blocks at the start of `bytes` ("multiple GGEP
/// blocks may follow each other"), or `None` if the first block is malformed.
pub fn run_len(bytes: &[u8]) -> Option<usize> {
    let mut total = block_len(bytes)?;
    while let Some(next) = bytes.get(total..).and_then(block_len) {
        total += next;
    }
    Some(total)
}

/// Appends the GGEP length encoding of `len` (6-bit chunks, most significant first).
/// Lengths above 262,143 cannot be expressed; the caller keeps data below that.
pub fn write_len(len: usize, out: &mut Vec<u8>) {
    let len = len.min(0x3_FFFF);
    if len >= 1 << 12 {
        out.push(LEN_MORE | ((len >> 12) as u8 & LEN_BITS));
    }
    if len >= 1 << 6 {
        out.push(LEN_MORE | ((len >> 6) as u8 & LEN_BITS));
    }
    out.push(LEN_LAST | (len as u8 & LEN_BITS));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_chunks_match_the_spec_table() {
        for (len, want) in [
            (0usize, vec![0x40u8]),
            (63, vec![0x7F]),
            (64, vec![0x81, 0x40]),
            (4095, vec![0xBF, 0x7F]),
            (4096, vec![0x81, 0x80, 0x40]),
            (262_143, vec![0xBF, 0xBF, 0x7F]),
        ] {
            let mut out = Vec::new();
            write_len(len, &mut out);
            assert_eq!(out, want, "length {len}");
        }
    }

    #[test]
    fn measures_blocks_and_refuses_broken_ones() {
        // C3, flags last|id len 1, id 'H', len 2, data.
        let block = [0xC3, 0x81, b'H', 0x42, 0x1C, 0x00];
        assert_eq!(block_len(&block), Some(6));
        assert_eq!(block_len(&[0xC3, 0x81, b'H', 0x42, 0x1C]), None);
        assert_eq!(block_len(&[0xC3, 0x80, 0x40]), None);
        assert_eq!(block_len(&[0xC3, 0x91, b'H', 0x40]), None);
        assert_eq!(block_len(&[0xC3, 0x81, b'H', 0x80, 0x80, 0x80, 0x40]), None);
        assert_eq!(block_len(&[0xC3, 0x81, b'H', 0xC0]), None);
        assert_eq!(block_len(&[0x00]), None);
        let two = [0xC3, 0x81, b'A', 0x40, 0xC3, 0x81, b'B', 0x40, 0x1C];
        assert_eq!(run_len(&two), Some(8));
    }
}
