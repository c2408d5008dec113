//! The call ids this process has acted on (or is acting on), so that a duplicated callback arriving here does
//! not send the command a second time. Bounded (the oldest are forgotten first) and in memory only: across
//! replicas and restarts the gateway's own answers are the guard (ALREADY_EXISTS on a publish with the same message
//! id, NOT_FOUND on a job already completed; `outcome::settle`).
//!
//! This matters most for a hold-mode failure with retries left: the job becomes activatable again under the same
//! job key, so a second FailJob from a duplicated callback could fail the job's *next* attempt. A duplicate that
//! reaches this process is stopped here; one that reaches another replica is not (a limit of Zeebe's job
//! protocol, which has no activation id to compare).

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

#[derive(Debug)]
pub(crate) struct Seen {
    capacity: usize,
    inner: Mutex<(HashSet<String>, VecDeque<String>)>,
}

impl Seen {
    pub(crate) fn new(capacity: usize) -> Seen {
        Seen {
            capacity,
            inner: Mutex::new((HashSet::new(), VecDeque::new())),
        }
    }

    /// True the first time `call_id` is seen (the caller should act), false for a duplicate.
    pub(crate) fn first(&self, call_id: &str) -> bool {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (set, order) = &mut *guard;
        if !set.insert(call_id.to_owned()) {
            return false;
        }
        order.push_back(call_id.to_owned());
        while order.len() > self.capacity {
            if let Some(oldest) = order.pop_front() {
                set.remove(&oldest);
            }
        }
        true
    }

    /// Forgets `call_id` after its action failed, so that a later delivery of the callback may act.
    pub(crate) fn forget(&self, call_id: &str) {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (set, order) = &mut *guard;
        if set.remove(call_id) {
            order.retain(|c| c != call_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_caught_within_the_capacity() {
        let seen = Seen::new(2);
        assert!(seen.first("a"));
        assert!(!seen.first("a"));
        assert!(seen.first("b"));
        assert!(seen.first("c"));
        // "a" was the oldest and is forgotten.
        assert!(seen.first("a"));
        assert!(!seen.first("c"));
        seen.forget("c");
        assert!(seen.first("c"));
    }
}
