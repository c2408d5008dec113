//! Deterministic entry and snapshot contents, shared by the tests and the crash child, so a
//! recovered entry can be checked against its position alone.

/// The payload of the entry at `position`: 40..1,540 bytes that start with the position.
pub fn entry(position: u64) -> Vec<u8> {
    let len = 40 + (position.wrapping_mul(2_654_435_761) % 1_500) as usize;
    let mut bytes = Vec::with_capacity(len);
    bytes.extend_from_slice(&position.to_le_bytes());
    let mut x = position ^ 0x9E37_79B9_7F4A_7C15;
    while bytes.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.push(x as u8);
    }
    bytes
}

/// The snapshot covering `covers`: 64 KiB derived from it, so the write takes a while.
pub fn snapshot(covers: u64) -> Vec<u8> {
    let mut bytes = covers.to_le_bytes().to_vec();
    bytes.extend((0..64 * 1024u64).map(|i| (i.wrapping_mul(covers) >> 3) as u8));
    bytes
}
