//! Large tables the simulator reads at random, backed by transparent huge pages when the
//! OS offers them on request (Linux `madvise` mode).
//!
//! A million in-place nodes are hundreds of megabytes touched in random order: with 4 KiB
//! pages nearly every delivery also misses the TLB, and first touches cost one page fault
//! per 4 KiB. Asking for 2 MiB pages before the table is first written cuts both. It is
//! only advice: where it is refused, nothing changes but speed.

/// A vector of `len` items made by `make`, its memory advised as huge pages first.
pub fn filled_vec<T>(len: usize, mut make: impl FnMut() -> T) -> Vec<T> {
    let mut items = Vec::with_capacity(len);
    advise_huge(
        items.as_ptr() as *const u8,
        len.saturating_mul(std::mem::size_of::<T>()),
    );
    items.extend((0..len).map(|_| make()));
    items
}

const HUGE_PAGE: usize = 2 << 20;

#[cfg(target_os = "linux")]
fn advise_huge(ptr: *const u8, bytes: usize) {
    let start = (ptr as usize).saturating_add(HUGE_PAGE - 1) & !(HUGE_PAGE - 1);
    let end = (ptr as usize).saturating_add(bytes) & !(HUGE_PAGE - 1);
    if end > start {
        // SAFETY: the range lies inside an allocation we own and have not touched yet;
        // MADV_HUGEPAGE changes how it is backed, never its contents, and a refusal
        // (e.g. THP disabled) is harmless, so the result is ignored.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge(_ptr: *const u8, _bytes: usize) {}

#[cfg(test)]
mod tests {
    #[test]
    fn filled_vec_holds_what_it_was_given() {
        let v = super::filled_vec(1 << 20, || 7u32);
        assert_eq!(v.len(), 1 << 20);
        assert!(v.iter().all(|&x| x == 7));
    }
}
