//! The patched rustic_cdc (vendor/rustic_cdc: Rabin tables cached per process) must
//! hash exactly as the Rabin fingerprint is defined, or chunk boundaries — and with
//! them dedup against restic-written data — would silently change.
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
