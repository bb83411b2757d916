//! Synthetic shared files: the same (seed, name, size) gives the same bytes everywhere,
//! a Range read from any offset equals that slice of the whole, and the SHA-1 matches.

use std::io::{Read, Seek, SeekFrom};

use gnutella::protocol::Sha1;
use gnutella::topology::synthetic::{sha1_of, SyntheticReader};
use gnutella::topology::FileSpec;

fn whole(seed: u64, name: &str, size: u64) -> Vec<u8> {
    let mut out = Vec::new();
    SyntheticReader::new(seed, name, size)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn content_is_deterministic_and_depends_on_seed_and_name() {
    let size = 200_000;
    let a = whole(1, "debian-12-netinst.iso", size);
    assert_eq!(a.len() as u64, size);
    assert_eq!(a, whole(1, "debian-12-netinst.iso", size));
    assert_ne!(a, whole(2, "debian-12-netinst.iso", size));
    assert_ne!(a, whole(1, "debian-12-netinst.img", size));
    assert!(whole(1, "empty", 0).is_empty());
}

#[test]
fn range_reads_equal_slices_of_the_whole() {
    let size = 3 * 65_536 + 1234;
    let all = whole(7, "movie.avi", size);
    for offset in [0u64, 1, 3, 65_535, 65_536, 65_537, 100_000, size - 1, size] {
        let mut part = Vec::new();
        SyntheticReader::at_offset(7, "movie.avi", size, offset)
            .read_to_end(&mut part)
            .unwrap();
        assert_eq!(part, all[offset as usize..], "offset {offset}");
    }
    let mut r = SyntheticReader::new(7, "movie.avi", size);
    r.seek(SeekFrom::Start(70_000)).unwrap();
    let mut buf = vec![0u8; 500];
    r.read_exact(&mut buf).unwrap();
    assert_eq!(buf, all[70_000..70_500]);
    r.seek(SeekFrom::End(-10)).unwrap();
    let mut tail = Vec::new();
    r.read_to_end(&mut tail).unwrap();
    assert_eq!(tail, all[all.len() - 10..]);
}

#[test]
fn sha1_matches_the_streamed_content() {
    let size = 1_048_576 + 3;
    let bytes = whole(1, "debian-12-netinst.iso", size);
    assert_eq!(
        sha1_of(1, "debian-12-netinst.iso", size),
        Sha1::of_bytes(&bytes)
    );
    let spec = FileSpec {
        name: "debian-12-netinst.iso".into(),
        size,
    };
    assert_eq!(spec.sha1(1), Sha1::of_bytes(&bytes));
    assert_eq!(
        Sha1::of_reader(spec.reader(1)).unwrap(),
        Sha1::of_bytes(&bytes)
    );
}
