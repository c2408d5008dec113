//! Zeebe's key encoding: a 64-bit key carries the partition id in its top bits, `(partition << 51) + counter`.
//! Clients display and reuse keys as they are, so the encoding must match Zeebe's.

use serde::{Deserialize, Serialize};

/// The only partition of the embedded engine.
pub const PARTITION_ID: i64 = 1;
const PARTITION_BITS: u32 = 51;

/// A record key: process definitions, element instances, jobs, incidents, messages, timers, variables.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
pub struct Key(pub i64);

impl Key {
    /// The "no key" value Zeebe uses in records (-1).
    pub const NONE: Key = Key(-1);

    pub fn partition(self) -> i64 {
        self.0 >> PARTITION_BITS
    }

    pub fn counter(self) -> i64 {
        self.0 & ((1 << PARTITION_BITS) - 1)
    }

    pub fn is_none(self) -> bool {
        self.0 < 0
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The key generator. Its counter is part of the state and advanced only by applying events that carry new keys,
/// so replay reproduces it exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyGenerator {
    next: i64,
}

impl Default for KeyGenerator {
    fn default() -> Self {
        KeyGenerator {
            next: (PARTITION_ID << PARTITION_BITS) + 1,
        }
    }
}

impl KeyGenerator {
    /// The key the next new entity will get (processing peeks, the applier of its creation event advances).
    pub fn peek(&self) -> Key {
        Key(self.next)
    }

    /// Called by appliers: every key seen in a creation event moves the counter past it.
    pub fn observe(&mut self, key: Key) {
        if key.0 >= self.next {
            self.next = key.0 + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_encode_partition_like_zeebe() {
        let g = KeyGenerator::default();
        assert_eq!(g.peek().0, 2251799813685249);
        assert_eq!(g.peek().partition(), 1);
        assert_eq!(g.peek().counter(), 1);
    }
}
