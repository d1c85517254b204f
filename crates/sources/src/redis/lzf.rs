//! LZF decompression: Redis compresses strings longer than 20 bytes in an RDB with it
//! (`rdbcompression yes`). Only names (keys, aux fields) are decompressed; values are
//! passed to the target as they are, compressed.

/// Decompresses `input` into exactly `len` bytes; `None` when it does not.
pub fn decompress(input: &[u8], len: usize) -> Option<Vec<u8>> {
    // The length comes from the file: do not trust it with an allocation.
    let mut out = Vec::with_capacity(len.min(1 << 20));
    let mut i = 0;
    while i < input.len() {
        let ctrl = usize::from(input[i]);
        i += 1;
        if ctrl < 32 {
            // A literal run of ctrl + 1 bytes.
            let run = input.get(i..i + ctrl + 1)?;
            out.extend_from_slice(run);
            i += run.len();
        } else {
            // A back reference: length (ctrl >> 5) + 2, distance from 13 bits + 1.
            let mut run = ctrl >> 5;
            if run == 7 {
                run += usize::from(*input.get(i)?);
                i += 1;
            }
            let distance = ((ctrl & 0x1f) << 8) + usize::from(*input.get(i)?) + 1;
            i += 1;
            let from = out.len().checked_sub(distance)?;
            // Byte by byte: the source may overlap what is being written.
            for k in 0..run + 2 {
                let b = out[from + k];
                out.push(b);
            }
        }
        if out.len() > len {
            return None;
        }
    }
    (out.len() == len).then_some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn decodes_literals_and_overlapping_back_references() {
        // "abcabcabcabc": literal "abc", then 9 bytes from 3 back (run 7 = 5 + 2).
        let compressed = [2, b'a', b'b', b'c', (5 << 5), 2];
        assert_eq!(decompress(&compressed, 10).unwrap(), b"abcabcabca".to_vec());
        // A long run: 7 in the control byte plus an extra length byte.
        let compressed = [0, b'x', (7 << 5), 3, 0];
        assert_eq!(decompress(&compressed, 13).unwrap(), vec![b'x'; 13]);
    }

    #[test]
    fn refuses_what_does_not_decode_to_the_stated_length() {
        assert!(decompress(&[2, b'a', b'b', b'c'], 4).is_none());
        assert!(decompress(&[2, b'a', b'b'], 3).is_none());
        // A reference before the start.
        assert!(decompress(&[0, b'a', (1 << 5), 5], 4).is_none());
    }
}
