//! CRC-64/Jones, the checksum Redis puts at the end of an RDB file and of every `DUMP`
//! payload (reflected polynomial 0x95ac9329ac4bc9b5, init 0, no final xor), computed
//! eight bytes at a time: a restore checksums every payload it builds, so this runs
//! over the whole RDB twice.

/// The polynomial 0xad93d23594c935a9, bit-reversed.
const POLY: u64 = 0x95ac_9329_ac4b_c9b5;

const fn tables() -> [[u64; 256]; 8] {
    let mut t = [[0u64; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u64;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 == 1 { (c >> 1) ^ POLY } else { c >> 1 };
            bit += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        k += 1;
    }
    t
}

static TABLES: [[u64; 256]; 8] = tables();

/// Continues `crc` over `bytes` (start with 0).
pub fn update(mut crc: u64, bytes: &[u8]) -> u64 {
    let t = &TABLES;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = (crc ^ u64::from_le_bytes(word)).to_le_bytes();
        crc = t[7][usize::from(x[0])]
            ^ t[6][usize::from(x[1])]
            ^ t[5][usize::from(x[2])]
            ^ t[4][usize::from(x[3])]
            ^ t[3][usize::from(x[4])]
            ^ t[2][usize::from(x[5])]
            ^ t[1][usize::from(x[6])]
            ^ t[0][usize::from(x[7])];
    }
    for &b in chunks.remainder() {
        crc = t[0][usize::from((crc as u8) ^ b)] ^ (crc >> 8);
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_redis_check_value_in_any_split() {
        // Redis's crc64.c test vector.
        assert_eq!(update(0, b"123456789"), 0xe9c6_d914_c4b8_d9ca);
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 131 % 256) as u8).collect();
        let whole = update(0, &data);
        for split in [0, 1, 7, 8, 9, 500, 999] {
            let (a, b) = data.split_at(split);
            assert_eq!(update(update(0, a), b), whole, "split {split}");
        }
    }
}
