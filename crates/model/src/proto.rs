//! Protobuf wire-format primitives, written straight into a `Vec<u8>`.

pub const VARINT: u32 = 0;
pub const FIXED64: u32 = 1;
pub const LEN: u32 = 2;
pub const FIXED32: u32 = 5;

#[inline]
pub fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push(v.to_le_bytes()[0] | 0x80);
        v >>= 7;
    }
    buf.push(v.to_le_bytes()[0]);
}

#[inline]
pub fn varint_len(v: u64) -> usize {
    // 1 byte per started group of 7 bits; 0 takes one byte.
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

#[inline]
pub fn put_tag(buf: &mut Vec<u8>, field: u32, wire: u32) {
    put_varint(buf, u64::from((field << 3) | wire));
}

#[inline]
pub fn tag_len(field: u32) -> usize {
    varint_len(u64::from(field << 3))
}

#[inline]
pub fn put_len_field(buf: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_tag(buf, field, LEN);
    put_varint(buf, bytes.len() as u64);
    buf.extend_from_slice(bytes);
}

/// Writes a length-delimited field whose body `body` writes straight into `buf`: room for a
/// 2-byte length is kept and the body moved only when its length needs another size (bodies
/// of 128 B to 16 KiB, e.g. spans, are written once, without a scratch copy).
#[inline]
pub fn put_len_field_with(buf: &mut Vec<u8>, field: u32, body: impl FnOnce(&mut Vec<u8>)) {
    put_tag(buf, field, LEN);
    let at = buf.len();
    buf.extend_from_slice(&[0, 0]);
    body(buf);
    let len = buf.len() - at - 2;
    let n = varint_len(len as u64);
    if n != 2 {
        // Make the room fit the length's size (rare): shift the body.
        let body_start = at + 2;
        if n < 2 {
            buf.copy_within(body_start.., at + n);
            buf.truncate(at + n + len);
        } else {
            buf.resize(buf.len() + n - 2, 0);
            buf.copy_within(body_start..body_start + len, at + n);
        }
    }
    let mut v = len as u64;
    for i in 0..n {
        buf[at + i] = if i + 1 < n { v.to_le_bytes()[0] | 0x80 } else { v.to_le_bytes()[0] };
        v >>= 7;
    }
}

/// Size of a length-delimited field holding `len` bytes.
#[inline]
pub fn len_field_size(field: u32, len: usize) -> usize {
    tag_len(field) + varint_len(len as u64) + len
}

#[inline]
pub fn put_fixed64(buf: &mut Vec<u8>, field: u32, v: u64) {
    put_tag(buf, field, FIXED64);
    buf.extend_from_slice(&v.to_le_bytes());
}

#[inline]
pub fn put_fixed32(buf: &mut Vec<u8>, field: u32, v: u32) {
    put_tag(buf, field, FIXED32);
    buf.extend_from_slice(&v.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_place_fields_equal_copied_ones() {
        for len in [0usize, 1, 127, 128, 300, 16_383, 16_384, 70_000] {
            let body: Vec<u8> = (0..len).map(|i| i.to_le_bytes()[0]).collect();
            let (mut a, mut b) = (vec![9u8], vec![9u8]);
            put_len_field(&mut a, 2, &body);
            put_len_field_with(&mut b, 2, |buf| buf.extend_from_slice(&body));
            assert!(a == b, "length {len}");
        }
    }

    #[test]
    fn varint_len_matches_encoding() {
        for v in [0u64, 1, 127, 128, 16_383, 16_384, u32::MAX as u64, u64::MAX] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            assert_eq!(b.len(), varint_len(v), "{v}");
        }
    }
}
