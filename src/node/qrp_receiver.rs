//! The receiving end of a QRP table: RESET and PATCH messages from one link in, a complete
//! [`QrpTable`] out, and hostile input refused with a typed error before it costs memory.
//!
//! The rules are gtk-gnutella's (`qrp.c`, `qrt_handle_reset` / `qrt_handle_patch`), which
//! answers each violation with `Bye 413` and closes that link only
//! ([`QrpError::BYE_CODE`]):
//! - RESET: the length must be a power of two, at most 2^[`MAX_BITS`] slots (gtk-gnutella
//!   shrinks larger tables; no servent sends one, so here it is refused), infinity ≥ 1.
//!   The table held so far is dropped: none is usable until the sequence after the
//!   RESET completes (gtk-gnutella sends a leaf no query until then).
//! - PATCH: never before a RESET; `seq_no` 1, 2, ... in order and never past `seq_size`;
//!   `seq_size`, `entry_bits` and the compressor fixed by message 1; entry bits 1, 2, 4
//!   or 8; compressor none or zlib (LimeWire refuses others too).
//! - The data of a sequence (inflated, when zlib: one stream across its messages) must
//!   cover exactly the table's slots: a byte beyond the last slot is an overflow, a
//!   sequence ending short is incomplete, a zlib stream ending before the last message
//!   is an error.
//!
//! **Decompression bombs**: the zlib stream is inflated incrementally into a small fixed
//! buffer ([`INFLATE_CHUNK`] bytes) whose content is applied to the table before the next
//! piece is inflated, and the first byte that would land past the table's last slot stops
//! it with [`QrpError::Overflow`]. Whatever the stream would inflate to, the receiver
//! holds the table (at most 2^21 bits, 256 KiB) and one chunk, and inflates at most one
//! chunk past the table's size.
//!
//! Entry values follow both servents: a negative entry (sign bit set) makes the slot
//! present, a positive one absent, zero leaves it; 1-bit entries toggle the slot
//! (gtk-gnutella's XOR rule). A sequence after a complete one patches that table
//! (incremental update); the new table replaces the old one only when the sequence
//! completes.

use flate2::{Decompress, FlushDecompress, Status};

use super::qrp_table::{QrpTable, MAX_BITS};
use crate::protocol::qrp::{Patch, RouteTableUpdate, COMPRESSOR_NONE, COMPRESSOR_ZLIB};

/// Inflated bytes produced (and applied) at a time.
pub const INFLATE_CHUNK: usize = 4096;

/// Why a link's QRP messages are refused. Every one closes that link (Bye 413).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrpError {
    #[error("QRP table length {0} is not a power of two")]
    LengthNotPowerOfTwo(u32),
    #[error("QRP table of {len} slots is larger than the {max} we accept")]
    TableTooLarge { len: u32, max: u32 },
    #[error("QRP infinity {0} is below 1")]
    BadInfinity(u8),
    #[error("QRP PATCH before any RESET")]
    PatchBeforeReset,
    #[error("QRP PATCH #{got} out of order (expected #{expected})")]
    OutOfOrder { got: u8, expected: u8 },
    #[error("QRP PATCH #{seq_no} in a sequence of {seq_size}")]
    TooManyMessages { seq_no: u8, seq_size: u8 },
    #[error("QRP sequence size changed from {was} to {got}")]
    SeqSizeChanged { was: u8, got: u8 },
    #[error("QRP entry bits changed from {was} to {got}")]
    EntryBitsChanged { was: u8, got: u8 },
    #[error("QRP compressor changed from {was} to {got}")]
    CompressorChanged { was: u8, got: u8 },
    #[error("QRP entry bits {0} (1, 2, 4 or 8 expected)")]
    BadEntryBits(u8),
    #[error("unknown QRP compressor {0}")]
    BadCompressor(u8),
    #[error("QRP patch overflows the table of {slots} slots")]
    Overflow { slots: u32 },
    #[error("QRP patch covered only {covered} of {slots} slots")]
    Incomplete { covered: u32, slots: u32 },
    #[error("QRP patch #{seq_no}/{seq_size} does not inflate: {why}")]
    Inflate {
        seq_no: u8,
        seq_size: u8,
        why: String,
    },
    #[error("QRP zlib stream ended at PATCH #{seq_no} of {seq_size}")]
    EarlyStreamEnd { seq_no: u8, seq_size: u8 },
}

impl QrpError {
    /// The Bye code gtk-gnutella sends for every one of these.
    pub const BYE_CODE: u16 = 413;
}

/// What one message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QrpProgress {
    /// A RESET: a new table is on its way; none is usable meanwhile.
    Reset,
    /// A PATCH of a sequence not yet complete.
    Patched { seq_no: u8, seq_size: u8 },
    /// The last PATCH of a sequence: [`QrpReceiver::table`] is the new table.
    Complete,
}

/// One link's incoming QRP state.
#[derive(Debug, Default)]
pub struct QrpReceiver {
    /// The last complete table.
    table: Option<QrpTable>,
    /// Since a RESET or between sequences: what the next PATCH sequence starts from.
    state: State,
}

#[derive(Debug, Default)]
enum State {
    /// Nothing received yet: a PATCH is refused.
    #[default]
    NoReset,
    /// A RESET came; no sequence has started on the new table.
    Reset { bits: u8 },
    /// Between sequences after a complete one: the next patches that table.
    Idle,
    /// Inside a PATCH sequence.
    Sequence(Box<Sequence>),
}

#[derive(Debug)]
struct Sequence {
    table: QrpTable,
    seq_size: u8,
    next: u8,
    compressor: u8,
    entry_bits: u8,
    /// Next slot to patch.
    slot: u32,
    inflater: Option<Decompress>,
    stream_ended: bool,
}

impl QrpReceiver {
    pub fn new() -> QrpReceiver {
        QrpReceiver::default()
    }

    /// The last complete table (None before the first sequence completes, and from a
    /// RESET until the sequence after it completes).
    pub fn table(&self) -> Option<&QrpTable> {
        self.table.as_ref()
    }

    /// Heap bytes held (tables and an inflater, roughly).
    pub fn heap_bytes(&self) -> usize {
        let held = self.table.as_ref().map_or(0, QrpTable::heap_bytes);
        let working = match &self.state {
            State::Sequence(s) => {
                s.table.heap_bytes() + if s.inflater.is_some() { 48 * 1024 } else { 0 }
            }
            _ => 0,
        };
        held + working
    }

    /// Applies one message. An error leaves the receiver unusable for this link: close
    /// it (Bye [`QrpError::BYE_CODE`]).
    pub fn apply(&mut self, update: &RouteTableUpdate) -> Result<QrpProgress, QrpError> {
        match update {
            RouteTableUpdate::Reset {
                table_len,
                infinity,
            } => self.reset(*table_len, *infinity),
            RouteTableUpdate::Patch(patch) => self.patch(patch),
        }
    }

    fn reset(&mut self, table_len: u32, infinity: u8) -> Result<QrpProgress, QrpError> {
        if !table_len.is_power_of_two() {
            return Err(QrpError::LengthNotPowerOfTwo(table_len));
        }
        let max = 1u32 << MAX_BITS;
        if table_len > max {
            return Err(QrpError::TableTooLarge {
                len: table_len,
                max,
            });
        }
        if infinity < 1 {
            return Err(QrpError::BadInfinity(infinity));
        }
        self.table = None;
        self.state = State::Reset {
            bits: table_len.trailing_zeros() as u8,
        };
        Ok(QrpProgress::Reset)
    }

    fn patch(&mut self, patch: &Patch) -> Result<QrpProgress, QrpError> {
        let state = std::mem::take(&mut self.state);
        let mut seq = match state {
            State::NoReset => return Err(QrpError::PatchBeforeReset),
            State::Reset { bits } => self.start(patch, QrpTable::empty(bits))?,
            State::Idle => {
                let base = self.table.clone().ok_or(QrpError::PatchBeforeReset)?;
                self.start(patch, base)?
            }
            State::Sequence(seq) => {
                check_continues(&seq, patch)?;
                seq
            }
        };
        seq.next = seq.next.wrapping_add(1);
        if seq.compressor == COMPRESSOR_ZLIB {
            seq.inflate(patch)?;
        } else {
            seq.apply_entries(&patch.data)?;
        }
        if patch.seq_no < seq.seq_size {
            let progress = QrpProgress::Patched {
                seq_no: patch.seq_no,
                seq_size: seq.seq_size,
            };
            self.state = State::Sequence(seq);
            return Ok(progress);
        }
        let slots = seq.table.slots();
        if seq.slot < slots {
            return Err(QrpError::Incomplete {
                covered: seq.slot,
                slots,
            });
        }
        self.table = Some(seq.table);
        self.state = State::Idle;
        Ok(QrpProgress::Complete)
    }

    /// Checks message 1 of a sequence and sets the sequence up on `table`.
    fn start(&self, patch: &Patch, table: QrpTable) -> Result<Box<Sequence>, QrpError> {
        if patch.seq_no != 1 {
            return Err(QrpError::OutOfOrder {
                got: patch.seq_no,
                expected: 1,
            });
        }
        if patch.seq_size < patch.seq_no {
            return Err(QrpError::TooManyMessages {
                seq_no: patch.seq_no,
                seq_size: patch.seq_size,
            });
        }
        if !matches!(patch.entry_bits, 1 | 2 | 4 | 8) {
            return Err(QrpError::BadEntryBits(patch.entry_bits));
        }
        let inflater = match patch.compressor {
            COMPRESSOR_NONE => None,
            COMPRESSOR_ZLIB => Some(Decompress::new(true)),
            other => return Err(QrpError::BadCompressor(other)),
        };
        Ok(Box::new(Sequence {
            table,
            seq_size: patch.seq_size,
            next: 1,
            compressor: patch.compressor,
            entry_bits: patch.entry_bits,
            slot: 0,
            inflater,
            stream_ended: false,
        }))
    }
}

/// Checks that `patch` is the next message of `seq`.
fn check_continues(seq: &Sequence, patch: &Patch) -> Result<(), QrpError> {
    if patch.seq_no != seq.next {
        return Err(QrpError::OutOfOrder {
            got: patch.seq_no,
            expected: seq.next,
        });
    }
    if patch.seq_size != seq.seq_size {
        return Err(QrpError::SeqSizeChanged {
            was: seq.seq_size,
            got: patch.seq_size,
        });
    }
    if patch.entry_bits != seq.entry_bits {
        return Err(QrpError::EntryBitsChanged {
            was: seq.entry_bits,
            got: patch.entry_bits,
        });
    }
    if patch.compressor != seq.compressor {
        return Err(QrpError::CompressorChanged {
            was: seq.compressor,
            got: patch.compressor,
        });
    }
    Ok(())
}

impl Sequence {
    /// Inflates this message's share of the stream, one chunk at a time, applying each.
    fn inflate(&mut self, patch: &Patch) -> Result<(), QrpError> {
        let (seq_no, seq_size) = (patch.seq_no, self.seq_size);
        let mut input: &[u8] = &patch.data;
        let mut out = [0u8; INFLATE_CHUNK];
        // Until the input is used up and the inflater has nothing more to give (a full
        // output buffer may mean more is pending), or the stream ends.
        while !self.stream_ended {
            let Some(inflater) = self.inflater.as_mut() else {
                return Ok(());
            };
            let (in_before, out_before) = (inflater.total_in(), inflater.total_out());
            let status = inflater
                .decompress(input, &mut out, FlushDecompress::None)
                .map_err(|e| QrpError::Inflate {
                    seq_no,
                    seq_size,
                    why: e.to_string(),
                })?;
            let consumed = (inflater.total_in() - in_before) as usize;
            let produced = (inflater.total_out() - out_before) as usize;
            input = input.get(consumed..).unwrap_or_default();
            self.apply_entries(out.get(..produced).unwrap_or_default())?;
            if status == Status::StreamEnd {
                self.stream_ended = true;
            } else if (input.is_empty() && produced < out.len()) || (consumed | produced) == 0 {
                // Everything given was taken and nothing more is pending, or zlib cannot
                // move on without the next message's bytes.
                break;
            }
        }
        // Anything after the end of the stream is ignored, as gtk-gnutella does.
        if self.stream_ended && seq_no < seq_size {
            return Err(QrpError::EarlyStreamEnd { seq_no, seq_size });
        }
        Ok(())
    }

    /// Applies inflated entries from the current slot on.
    fn apply_entries(&mut self, data: &[u8]) -> Result<(), QrpError> {
        let bits = u32::from(self.entry_bits);
        let per_byte = 8 / bits;
        let slots = self.table.slots();
        let entries = data.len() as u64 * u64::from(per_byte);
        if u64::from(self.slot) + entries > u64::from(slots) {
            return Err(QrpError::Overflow { slots });
        }
        let mask = ((1u16 << bits) - 1) as u8;
        let sign = 1u8 << (bits - 1);
        for &byte in data {
            for k in 0..per_byte {
                let value = (byte >> (8 - bits * (k + 1))) & mask;
                let slot = self.slot;
                self.slot += 1;
                if value == 0 {
                    continue;
                }
                if bits == 1 {
                    let now = self.table.is_present(slot);
                    self.table.set(slot, !now);
                } else {
                    self.table.set(slot, value & sign != 0);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn patch(seq_no: u8, seq_size: u8, compressor: u8, bits: u8, data: &[u8]) -> RouteTableUpdate {
        RouteTableUpdate::Patch(Patch {
            seq_no,
            seq_size,
            compressor,
            entry_bits: bits,
            data: Bytes::copy_from_slice(data),
        })
    }

    fn reset(len: u32) -> RouteTableUpdate {
        RouteTableUpdate::Reset {
            table_len: len,
            infinity: 7,
        }
    }

    #[test]
    fn golden_sequence_yields_the_table() {
        let mut rx = QrpReceiver::new();
        assert_eq!(rx.apply(&reset(8)), Ok(QrpProgress::Reset));
        assert!(rx.table().is_none());
        let done = rx.apply(&patch(1, 1, 0, 4, &[0x00, 0xA0, 0x00, 0x00]));
        assert_eq!(done, Ok(QrpProgress::Complete));
        let table = rx.table().expect("complete");
        assert_eq!(table.present_slots().collect::<Vec<_>>(), [2]);
        assert!(table.contains_word("test"));
        // An incremental sequence: slot 2 gone (+6), slot 7 present (-1 at GTKG's
        // infinity 2 is 0xF).
        let done = rx.apply(&patch(1, 1, 0, 4, &[0x00, 0x60, 0x00, 0x0F]));
        assert_eq!(done, Ok(QrpProgress::Complete));
        let table = rx.table().expect("complete");
        assert_eq!(table.present_slots().collect::<Vec<_>>(), [7]);
    }

    #[test]
    fn other_entry_widths_apply() {
        for (bits, data) in [
            (8u8, vec![0, 0, 0xFA, 0, 0, 0, 0, 0]),
            (2, vec![0b0000_1100, 0]),
            (1, vec![0b0010_0000]),
        ] {
            let mut rx = QrpReceiver::new();
            rx.apply(&reset(8)).unwrap();
            assert_eq!(
                rx.apply(&patch(1, 1, 0, bits, &data)),
                Ok(QrpProgress::Complete),
                "{bits} bits"
            );
            let slots: Vec<u32> = rx.table().unwrap().present_slots().collect();
            assert_eq!(slots, [2], "{bits} bits");
        }
    }
}
