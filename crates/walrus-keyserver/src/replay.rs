//! The request IDs a key server has answered, so that none is answered twice. A request whose
//! time is more than `REQUEST_SKEW_MS` from the clock is refused anyway, so an ID is kept for
//! twice that and then forgotten; at most `capacity` are kept (the oldest go first, and a
//! request older than the oldest kept is refused as if replayed).

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use walrus_seal::session::REQUEST_SKEW_MS;

pub(crate) struct Replays {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    seen: HashSet<[u8; 32]>,
    /// (request time, ID), in arrival order.
    order: VecDeque<(u64, [u8; 32])>,
    /// Requests at or before this time are refused (the newest forgotten early, when full).
    floor_ms: u64,
}

impl Replays {
    pub(crate) fn new(capacity: usize) -> Self {
        Replays { capacity: capacity.max(1), inner: Mutex::new(Inner::default()) }
    }

    /// Whether `id` (of a request made at `at_ms`) is new; remembers it.
    pub(crate) fn first_time(&self, id: [u8; 32], at_ms: u64, now_ms: u64) -> bool {
        let mut inner = self.inner.lock().expect("replay lock");
        let horizon = now_ms.saturating_sub(2 * REQUEST_SKEW_MS);
        while inner.order.front().is_some_and(|(t, _)| *t < horizon) {
            let (_, old) = inner.order.pop_front().expect("a front");
            inner.seen.remove(&old);
        }
        while inner.order.len() >= self.capacity {
            let (t, old) = inner.order.pop_front().expect("a front");
            inner.seen.remove(&old);
            inner.floor_ms = inner.floor_ms.max(t);
        }
        if at_ms <= inner.floor_ms || !inner.seen.insert(id) {
            return false;
        }
        inner.order.push_back((at_ms, id));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_answered_once_and_a_full_memory_refuses_old_requests() {
        let replays = Replays::new(2);
        assert!(replays.first_time([1; 32], 1000, 1000));
        assert!(!replays.first_time([1; 32], 1000, 1001));
        assert!(replays.first_time([2; 32], 1001, 1001));
        assert!(replays.first_time([3; 32], 1002, 1002), "the oldest is forgotten");
        assert!(!replays.first_time([1; 32], 1000, 1003), "but requests as old are refused");
        assert!(replays.first_time([4; 32], 1003, 1003));
    }
}
