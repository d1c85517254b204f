//! The patched rustic_cdc (vendor/rustic_cdc: Rabin tables cached per process, and
//! two-lane `slide_until`) must hash exactly as the Rabin fingerprint is defined and
//! cut where byte-by-byte sliding cuts, or chunk boundaries — and with them dedup
//! against restic-written data — would silently change.
#![allow(clippy::unwrap_used)]

use rustic_cdc::{Polynom, Polynom64, Rabin64, RollingHash64};

/// The fingerprint of `window` by definition: the bytes as a polynomial over GF(2),
/// reduced modulo `poly`.
fn fingerprint(window: &[u8], poly: Polynom64) -> Polynom64 {
    window.iter().fold(0, |hash, byte| {
        ((hash << 8) | Polynom64::from(*byte)).modulo(&poly)
    })
}

fn rolling_hashes(rabin: &mut Rabin64, data: &[u8]) -> Vec<Polynom64> {
    data.iter()
        .map(|b| {
            rabin.slide(*b);
            *rabin.get_hash()
        })
        .collect()
}

/// Bytes that vary enough to exercise every table entry's neighbourhood.
fn varied_bytes(len: u64) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect()
}

#[test]
fn cached_rabin_tables_hash_as_defined_when_the_polynom_changes() {
    // Two polynoms of degree 53, as restic repositories use, alternated so that every
    // construction after the first is served from (or evicts) the cache.
    let polys: [Polynom64; 2] = [0x003D_A335_8B4D_C173, 0x0031_C3D8_0FE2_5F25];
    let data = varied_bytes(300);
    for round in 0..4 {
        let poly = polys[round % 2];
        let mut rabin = Rabin64::new_with_polynom(6, &poly);
        let hashes = rolling_hashes(&mut rabin, &data);
        for (end, hash) in hashes.iter().enumerate().skip(64) {
            let window = &data[end + 1 - 64..=end];
            assert_eq!(
                *hash,
                fingerprint(window, poly),
                "round {round}, byte {end}"
            );
        }
    }
}

/// Byte by byte, as rustic's chunker did: slide, then check the cut condition.
fn cut_one_by_one(rabin: &mut Rabin64, bytes: &[u8], mask: Polynom64) -> usize {
    for (i, b) in bytes.iter().enumerate() {
        rabin.slide(*b);
        if rabin.get_hash() & mask == 0 {
            return i + 1;
        }
    }
    bytes.len()
}

/// `slide_until` (two lanes) must cut where sliding byte by byte cuts, and leave the
/// same state: checked with frequent cut points (small masks) on slices of every
/// length around the two-lane threshold and beyond, cut after cut.
#[test]
fn two_lane_slide_cuts_and_continues_exactly_like_byte_by_byte() {
    let poly: Polynom64 = 0x003D_A335_8B4D_C173;
    let data: Vec<u8> = {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        (0..200_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    };
    for mask in [0x3F, 0xFF, 0xFFF, 0xF_FFFF] {
        for slice_len in [1, 100, 255, 256, 257, 1000, 4099, 65_536] {
            let mut fast = Rabin64::new_with_polynom(6, &poly);
            let mut slow = Rabin64::new_with_polynom(6, &poly);
            // Slide a first window in, as the chunker's minimum chunk size does.
            for b in &data[..64] {
                fast.slide(*b);
                slow.slide(*b);
            }
            let mut pos = 64;
            while pos < data.len() {
                let end = data.len().min(pos + slice_len);
                let got = fast.slide_until(&data[pos..end], mask);
                let want = cut_one_by_one(&mut slow, &data[pos..end], mask);
                assert_eq!(got, want, "mask {mask:#x}, slice {slice_len}, at {pos}");
                assert_eq!(fast.get_hash(), slow.get_hash(), "state at {}", pos + got);
                pos += got;
            }
        }
    }
}
