//! Lowercase hex for trace and span ids (and UUIDs), without allocation.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Appends the lowercase hex of `bytes` to `out`.
pub fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize]);
        out.push(DIGITS[(b & 15) as usize]);
    }
}

/// Appends the lowercase hex of `bytes` to a string.
pub fn push_hex_str(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
}

/// Appends 16 bytes in the UUID layout, `8-4-4-4-12` lowercase hex digits.
pub fn push_uuid_str(out: &mut String, b: &[u8; 16]) {
    for (i, part) in [&b[0..4], &b[4..6], &b[6..8], &b[8..10], &b[10..16]].into_iter().enumerate() {
        if i > 0 {
            out.push('-');
        }
        push_hex_str(out, part);
    }
}
