//! Standard base64 decoding for `decode-script`.

/// Decodes standard (RFC 4648, `+/`) base64.
///
/// Line breaks are skipped, as Go's `base64.StdEncoding` does: `place-scripts` writes the
/// encoded script through a heredoc, so the file ends with a newline. Padding is optional
/// (tolerating its absence costs nothing and never changes a valid input's meaning).
pub fn decode(input: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    let mut padding = 0usize;
    for (i, &c) in input.iter().enumerate() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'\r' | b'\n' => continue,
            b'=' => {
                padding += 1;
                continue;
            }
            _ => return Err(format!("illegal base64 data at input byte {i}")),
        };
        if padding > 0 {
            return Err(format!("illegal base64 data at input byte {i}"));
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // 6 leftover bits cannot encode a byte: a truncated input.
    if bits >= 6 || padding > 2 {
        return Err("truncated base64 data".to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn decodes_padded_unpadded_and_wrapped() {
        assert_eq!(decode(b""), Ok(vec![]));
        assert_eq!(decode(b"Zg=="), Ok(b"f".to_vec()));
        assert_eq!(decode(b"Zm8="), Ok(b"fo".to_vec()));
        assert_eq!(decode(b"Zm9v"), Ok(b"foo".to_vec()));
        assert_eq!(decode(b"Zm9vYg"), Ok(b"foob".to_vec()));
        assert_eq!(
            decode(b"IyEvYmluL3NoCmVjaG8g\r\naGVsbG8K\n"),
            Ok(b"#!/bin/sh\necho hello\n".to_vec())
        );
        assert_eq!(decode(b"+/+/"), Ok(vec![0xfb, 0xff, 0xbf]));
    }

    #[test]
    fn rejects_garbage() {
        assert!(decode(b"Zm9v!").is_err());
        assert!(decode(b"Zg==Zg").is_err());
        assert!(decode(b"Z").is_err());
    }
}
