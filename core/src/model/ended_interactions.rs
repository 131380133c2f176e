//! Ended interaction ids, remembered for a day (rule book §7 "State", §8).
//!
//! The ledger behind `duplicate_id` guards against a routing system starting an
//! interaction again that already ended (a late retry). Kept forever it made a tenant's
//! state grow with its history; now an id stays taken for [`REMEMBERED_MS`] of the
//! tenant's clock after it ended, then it is free. Forgetting is part of the fold and
//! decided by event time alone — every runtime and every replay keeps the same ids.
//!
//! The ids are kept twice: by id, to answer "is it taken?", and in the order they ended,
//! so that moving the clock forgets from the front of a queue instead of scanning the
//! ledger at every event.

use std::collections::VecDeque;
use std::fmt;

use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::id_map::IdMap;
use crate::model::ids::{InteractionId, Millis};

/// How long an ended interaction's id stays taken: 24 hours of the tenant's clock.
pub const REMEMBERED_MS: u64 = 24 * 60 * 60 * 1000;

/// The interactions that ended less than [`REMEMBERED_MS`] ago, with when they ended.
#[derive(Clone, Default)]
pub struct EndedInteractions {
    ended: IdMap<InteractionId, Millis>,
    /// `(ended at, id)`, oldest first. An id ended again (only a corrupted log can do that)
    /// leaves its older entry behind, which is skipped when it comes to the front.
    by_time: VecDeque<(Millis, InteractionId)>,
}

/// Whether an id that ended at `ended` is still taken at `at`. Exactly 24 hours later it
/// is free.
fn still_taken(ended: Millis, at: Millis) -> bool {
    at.get() < ended.get().saturating_add(REMEMBERED_MS)
}

impl EndedInteractions {
    /// Remembers that `id` ended at `at`.
    pub fn record(&mut self, id: InteractionId, at: Millis) {
        // Events come in clock order, so this is a push at the back; an event out of order
        // (a foreign log) still goes to its place, keeping the front the oldest.
        let place = self.by_time.partition_point(|(t, _)| *t <= at);
        self.by_time.insert(place, (at, id.clone()));
        self.ended.insert(id, at);
    }

    /// Forgets every id that is free at `now`: those that ended 24 hours or more before it.
    pub fn forget_until(&mut self, now: Millis) {
        while let Some((ended, _)) = self.by_time.front()
            && !still_taken(*ended, now)
        {
            let Some((ended, id)) = self.by_time.pop_front() else { break };
            if self.ended.get(&id) == Some(&ended) {
                self.ended.remove(&id);
            }
        }
    }

    /// Whether `id` is taken at `at` because it ended less than 24 hours before.
    pub fn taken_at(&self, id: &str, at: Millis) -> bool {
        self.ended.get(id).is_some_and(|ended| still_taken(*ended, at))
    }

    /// When `id` ended, while it is remembered.
    pub fn ended_at(&self, id: &str) -> Option<Millis> {
        self.ended.get(id).copied()
    }

    /// How many ids are remembered.
    pub fn len(&self) -> usize {
        self.ended.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ended.is_empty()
    }

    /// The ledger of `entries`, none of them free at `clock` — as read from a snapshot.
    fn from_entries(entries: impl IntoIterator<Item = (InteractionId, Millis)>, clock: Option<Millis>) -> Self {
        let mut by_time: Vec<(Millis, InteractionId)> = entries.into_iter().map(|(id, at)| (at, id)).collect();
        // Same-time ids in id order: a snapshot's ledger is the same whatever wrote it.
        by_time.sort_unstable();
        let mut ledger = EndedInteractions::default();
        for (at, id) in by_time {
            ledger.record(id, at);
        }
        if let Some(clock) = clock {
            ledger.forget_until(clock);
        }
        ledger
    }
}

impl PartialEq for EndedInteractions {
    /// The queue is an index of the map: two ledgers are equal when they remember the same
    /// ids with the same times.
    fn eq(&self, other: &Self) -> bool {
        self.ended == other.ended
    }
}

impl Eq for EndedInteractions {}

impl fmt::Debug for EndedInteractions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.ended.fmt(f)
    }
}

/// On the wire, by id: `{"call-1": 1733000000000, …}`.
impl Serialize for EndedInteractions {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.ended.serialize(s)
    }
}

/// The ledger as a snapshot holds it. Snapshots written before the rule book's v2 hold a
/// list of ids without their times ([`Written::Undated`]).
#[derive(Debug)]
pub(crate) enum Written {
    Dated(Vec<(InteractionId, Millis)>),
    Undated(Vec<InteractionId>),
}

impl Default for Written {
    fn default() -> Self {
        Written::Dated(Vec::new())
    }
}

impl Written {
    /// The ledger as of `clock`, the snapshot's. An undated id's end is unknown but not
    /// later than the snapshot's clock: it is taken as having ended then, so it stays taken
    /// for a day from then — never freed earlier than under the new rule, so a late retry
    /// of a call that ended just before the upgrade is still caught.
    pub(crate) fn into_ledger(self, clock: Option<Millis>) -> EndedInteractions {
        match self {
            Written::Dated(entries) => EndedInteractions::from_entries(entries, clock),
            Written::Undated(ids) => {
                let at = clock.unwrap_or(Millis::ZERO);
                EndedInteractions::from_entries(ids.into_iter().map(|id| (id, at)), None)
            }
        }
    }
}

impl<'de> Deserialize<'de> for Written {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Either;
        impl<'de> Visitor<'de> for Either {
            type Value = Written;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of interaction ids to when they ended (or, from older snapshots, a list of ids)")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Written, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1 << 16));
                while let Some(entry) = map.next_entry::<InteractionId, Millis>()? {
                    entries.push(entry);
                }
                Ok(Written::Dated(entries))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Written, A::Error> {
                let mut ids = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
                while let Some(id) = seq.next_element::<InteractionId>()? {
                    ids.push(id);
                }
                Ok(Written::Undated(ids))
            }
        }
        d.deserialize_any(Either)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Millis {
        Millis::new(n).expect("in range")
    }

    fn id(s: &str) -> InteractionId {
        InteractionId::new(s).expect("an id")
    }

    #[test]
    fn an_id_is_taken_for_exactly_a_day() {
        let mut ledger = EndedInteractions::default();
        ledger.record(id("call-1"), ms(1_000));
        assert!(ledger.taken_at("call-1", ms(1_000)));
        assert!(ledger.taken_at("call-1", ms(1_000 + REMEMBERED_MS - 1)));
        assert!(!ledger.taken_at("call-1", ms(1_000 + REMEMBERED_MS)));
        ledger.forget_until(ms(1_000 + REMEMBERED_MS - 1));
        assert_eq!(ledger.len(), 1);
        ledger.forget_until(ms(1_000 + REMEMBERED_MS));
        assert!(ledger.is_empty());
    }

    #[test]
    fn an_id_ended_again_is_kept_by_its_last_end() {
        let mut ledger = EndedInteractions::default();
        ledger.record(id("a"), ms(0));
        ledger.record(id("a"), ms(10));
        ledger.forget_until(ms(REMEMBERED_MS));
        assert_eq!(ledger.ended_at("a"), Some(ms(10)));
        ledger.forget_until(ms(REMEMBERED_MS + 10));
        assert!(ledger.is_empty());
    }

    #[test]
    fn old_snapshots_keep_their_ids_a_day_from_the_snapshot() {
        let written: Written = serde_json::from_str(r#"["a","b"]"#).expect("a list");
        let mut ledger = written.into_ledger(Some(ms(5_000)));
        assert!(ledger.taken_at("a", ms(5_000 + REMEMBERED_MS - 1)));
        ledger.forget_until(ms(5_000 + REMEMBERED_MS));
        assert!(ledger.is_empty());
        let written: Written = serde_json::from_str(r#"{"a":1,"b":2}"#).expect("a map");
        let ledger = written.into_ledger(Some(ms(REMEMBERED_MS + 1)));
        assert_eq!((ledger.ended_at("a"), ledger.ended_at("b")), (None, Some(ms(2))));
        let bad = serde_json::from_str::<Written>(r#"{"a":"x"}"#).expect_err("a time");
        assert!(bad.to_string().contains("line 1"), "{bad}");
    }
}
