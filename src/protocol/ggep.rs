//! GGEP blocks (PROTOCOL.md §2.9): where one ends, what is inside, and writing our own.
//!
//! We keep other servents' GGEP opaque and forward it untouched, but we must know where it
//! stops: in a Query's extension area GGEP comes last and may contain the 0x1C separator
//! (and, in gtk-gnutella style queries, a NUL), so splitting on separators alone would cut
//! it. Reading values ([`entries`]) serves the few keys we understand (`H`, `u`, our
//! cache marker); writing ([`write_block`]) serves the one block we add ourselves.

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

/// Bound on one inflated GGEP value: a peer's tiny zlib stream must not make us allocate
/// without limit.
pub const MAX_INFLATED_LEN: usize = 64 * 1024;

const FLAG_COBS: u8 = 0x40;
const FLAG_DEFLATE: u8 = 0x20;

/// Appends one GGEP block holding `extensions` (id, data) in order, the last flagged as
/// such. Data containing a NUL is COBS-encoded (flag 0x40), so with NUL-free ids the block
/// may sit where NUL is forbidden (a hit record's extension area, PROTOCOL.md §2.4); nothing is
/// deflated. Ids must be 1 to 15 bytes and data short enough for three length chunks
/// (262,143 bytes after COBS); an extension outside those bounds is left out rather than
/// written malformed. Nothing is written when no extension remains.
pub fn write_block(extensions: &[(&[u8], &[u8])], out: &mut Vec<u8>) {
    let fits = |id: &[u8]| (1..=usize::from(ID_LEN_MASK)).contains(&id.len());
    let encoded: Vec<(&[u8], bool, Vec<u8>)> = extensions
        .iter()
        .filter(|(id, _)| fits(id))
        .map(|(id, data)| {
            let cobs = data.contains(&0);
            let bytes = if cobs {
                cobs_encode(data)
            } else {
                data.to_vec()
            };
            (*id, cobs, bytes)
        })
        .filter(|(_, _, bytes)| bytes.len() <= MAX_DATA_LEN)
        .collect();
    if encoded.is_empty() {
        return;
    }
    out.push(GGEP_MAGIC);
    let last = encoded.len() - 1;
    for (i, (id, cobs, bytes)) in encoded.iter().enumerate() {
        let mut flags = id.len() as u8;
        if *cobs {
            flags |= FLAG_COBS;
        }
        if i == last {
            flags |= FLAG_LAST;
        }
        out.push(flags);
        out.extend_from_slice(id);
        write_len(bytes.len(), out);
        out.extend_from_slice(bytes);
    }
}

/// Largest data length three 6-bit length chunks can say.
const MAX_DATA_LEN: usize = 0x3_FFFF;

/// One extension of a GGEP block, its data un-COBSed and inflated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GgepEntry {
    /// Case-sensitive binary id, e.g. `H`, `u`, `GTKGV`.
    pub id: Vec<u8>,
    pub data: Vec<u8>,
}

/// Why a GGEP block's values cannot be read. Forwarding is unaffected: blocks travel
/// opaque; this only concerns looking inside one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GgepError {
    #[error("malformed GGEP block structure")]
    Malformed,
    #[error("malformed COBS encoding in a GGEP value")]
    BadCobs,
    #[error("GGEP value does not inflate, or inflates beyond {MAX_INFLATED_LEN} bytes")]
    BadDeflate,
}

/// The extensions of the run of GGEP blocks at the start of `bytes`, in wire order.
pub fn entries(bytes: &[u8]) -> Result<Vec<GgepEntry>, GgepError> {
    raw_entries(bytes)?
        .into_iter()
        .map(|raw| {
            Ok(GgepEntry {
                id: raw.id.to_vec(),
                data: raw.decode()?,
            })
        })
        .collect()
}

/// The value of the first extension called `id`, if the block is readable and has one.
/// Only that value is un-COBSed and inflated, so a peer's other (maybe deflated) values
/// cost us nothing.
pub fn find(bytes: &[u8], id: &[u8]) -> Option<Vec<u8>> {
    raw_entries(bytes)
        .ok()?
        .into_iter()
        .find(|e| e.id == id)?
        .decode()
        .ok()
}

/// The ids of the extensions of the run of GGEP blocks at the start of `bytes`, in wire
/// order, without decoding any value.
pub fn ids(bytes: &[u8]) -> Result<Vec<&[u8]>, GgepError> {
    Ok(raw_entries(bytes)?.into_iter().map(|e| e.id).collect())
}

/// One extension as transmitted.
struct RawEntry<'a> {
    flags: u8,
    id: &'a [u8],
    data: &'a [u8],
}

impl RawEntry<'_> {
    /// The value: un-COBSed, then inflated, as the flags say.
    fn decode(&self) -> Result<Vec<u8>, GgepError> {
        let mut data = if self.flags & FLAG_COBS != 0 {
            cobs_decode(self.data)?
        } else {
            self.data.to_vec()
        };
        if self.flags & FLAG_DEFLATE != 0 {
            data = inflate(&data)?;
        }
        Ok(data)
    }
}

fn raw_entries(bytes: &[u8]) -> Result<Vec<RawEntry<'_>>, GgepError> {
    let total = run_len(bytes).ok_or(GgepError::Malformed)?;
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < total {
        // Every block in the run starts with the magic byte; `run_len` vouched for it.
        pos += 1;
        loop {
            let flags = *bytes.get(pos).ok_or(GgepError::Malformed)?;
            let id_len = usize::from(flags & ID_LEN_MASK);
            let id = bytes
                .get(pos + 1..pos + 1 + id_len)
                .ok_or(GgepError::Malformed)?;
            pos += 1 + id_len;
            let mut data_len = 0usize;
            loop {
                let chunk = *bytes.get(pos).ok_or(GgepError::Malformed)?;
                pos += 1;
                data_len = (data_len << 6) | usize::from(chunk & LEN_BITS);
                if chunk & LEN_LAST != 0 {
                    break;
                }
            }
            let data = bytes.get(pos..pos + data_len).ok_or(GgepError::Malformed)?;
            pos += data_len;
            out.push(RawEntry { flags, id, data });
            if flags & FLAG_LAST != 0 {
                break;
            }
        }
    }
    Ok(out)
}

/// Standard COBS (Cheshire/Baker) without a trailing delimiter, as GGEP uses it: the
/// output holds no NUL, and [`cobs_decode`] gives `input` back.
fn cobs_encode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + input.len() / 254 + 2);
    let mut code_at = out.len();
    out.push(0);
    let mut code = 1u8;
    for &byte in input {
        if byte == 0 {
            out[code_at] = code;
            code_at = out.len();
            out.push(0);
            code = 1;
        } else {
            out.push(byte);
            code += 1;
            if code == 0xFF {
                out[code_at] = code;
                code_at = out.len();
                out.push(0);
                code = 1;
            }
        }
    }
    out[code_at] = code;
    out
}

/// Standard COBS (Cheshire/Baker) without a trailing delimiter, as GGEP uses it.
fn cobs_decode(input: &[u8]) -> Result<Vec<u8>, GgepError> {
    let mut out = Vec::with_capacity(input.len());
    let mut pos = 0usize;
    while pos < input.len() {
        let code = usize::from(input[pos]);
        if code == 0 {
            return Err(GgepError::BadCobs);
        }
        let run = input.get(pos + 1..pos + code).ok_or(GgepError::BadCobs)?;
        out.extend_from_slice(run);
        pos += code;
        if code < 0xFF && pos < input.len() {
            out.push(0);
        }
    }
    Ok(out)
}

fn inflate(input: &[u8]) -> Result<Vec<u8>, GgepError> {
    use std::io::Read;
    let mut out = Vec::new();
    let limit = (MAX_INFLATED_LEN + 1) as u64;
    flate2::read::ZlibDecoder::new(input)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|_| GgepError::BadDeflate)?;
    if out.len() > MAX_INFLATED_LEN {
        return Err(GgepError::BadDeflate);
    }
    Ok(out)
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

    #[test]
    fn written_blocks_read_back_and_hold_no_nul() {
        let long = vec![7u8; 300];
        let with_nuls = [0u8, 1, 0, 0, 2, 0];
        let mut block = Vec::new();
        let extensions: [(&[u8], &[u8]); 4] = [
            (b"GNRSC", &[3]),
            (b"Z", &with_nuls),
            (b"L", &long),
            (b"", b"no id"),
        ];
        write_block(&extensions, &mut block);
        assert_eq!(
            &block[..9],
            &[0xC3, 0x05, b'G', b'N', b'R', b'S', b'C', 0x41, 3]
        );
        assert!(!block.contains(&0), "COBS keeps NUL out: {block:?}");
        assert_eq!(block_len(&block), Some(block.len()));
        let got = entries(&block).expect("readable");
        let ids: Vec<&[u8]> = got.iter().map(|e| e.id.as_slice()).collect();
        assert_eq!(
            ids,
            [&b"GNRSC"[..], b"Z", b"L"],
            "the id-less one is left out"
        );
        assert_eq!(got[1].data, with_nuls);
        assert_eq!(got[2].data, long);
        let mut empty = Vec::new();
        write_block(&[], &mut empty);
        assert!(empty.is_empty());
    }

    #[test]
    fn cobs_round_trips_runs_around_254() {
        for len in [0usize, 1, 253, 254, 255, 256, 600] {
            for fill in [0u8, 9] {
                let data: Vec<u8> = (0..len)
                    .map(|i| if i % 97 == 5 { 0 } else { fill.max(1) })
                    .chain(std::iter::repeat(fill).take(len % 3))
                    .collect();
                let coded = cobs_encode(&data);
                assert!(!coded.contains(&0), "len {len} fill {fill}");
                assert_eq!(cobs_decode(&coded), Ok(data), "len {len} fill {fill}");
            }
        }
    }

    #[test]
    fn reads_values_plain_cobs_and_deflated() {
        // "DU" = 01 02 plain; "H" COBS-encoded 01 00 02 -> 02 01 02 02; then last.
        let block = [
            0xC3, 0x02, b'D', b'U', 0x42, 1, 2, 0xC1, b'H', 0x44, 2, 1, 2, 2,
        ];
        let got = entries(&block).expect("readable");
        assert_eq!(
            got[0],
            GgepEntry {
                id: b"DU".to_vec(),
                data: vec![1, 2]
            }
        );
        assert_eq!(
            got[1],
            GgepEntry {
                id: b"H".to_vec(),
                data: vec![1, 0, 2]
            }
        );
        assert_eq!(find(&block, b"H"), Some(vec![1, 0, 2]));
        // zlib of "aaaa" (78 9C 4B 4C 4C 4C 04 00 03 CE 01 85), flagged deflated.
        let z = [
            0x78, 0x9C, 0x4B, 0x4C, 0x4C, 0x4C, 0x04, 0x00, 0x03, 0xCE, 0x01, 0x85,
        ];
        let mut block = vec![0xC3, 0xA1, b'Z', 0x40 | z.len() as u8];
        block.extend(z);
        assert_eq!(
            entries(&block).map(|e| e[0].data.clone()),
            Ok(b"aaaa".to_vec())
        );
        assert_eq!(
            entries(&[0xC3, 0xC1, b'H', 0x42, 0, 1]),
            Err(GgepError::BadCobs)
        );
        assert_eq!(
            entries(&[0xC3, 0xA1, b'Z', 0x41, 7]),
            Err(GgepError::BadDeflate)
        );
        // `find` decodes only the value asked for: a broken other value does not hide it.
        let mixed = [0xC3, 0x21, b'Z', 0x41, 7, 0x81, b'H', 0x41, 9];
        assert_eq!(find(&mixed, b"H"), Some(vec![9]));
        assert_eq!(find(&mixed, b"Z"), None);
        assert_eq!(ids(&mixed), Ok(vec![&b"Z"[..], b"H"]));
    }
}
