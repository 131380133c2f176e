//! `system`'s live feed — the tenant's log as it is stored, resumable by sequence number —
//! as a plain state machine: what it learns goes in (a page read from the store, a notice
//! of this host's or another host's appends, a snapshot taken), what to do next comes out
//! ([`LogFeed::step`]). It does no I/O; the HTTP handler reads, waits and sends.
//!
//! Its one promise: the events it hands out are the log's, in order, each once, from the
//! cursor on — or, when the events after the cursor were pruned, a snapshot to start anew
//! from, never a silent gap.

use std::collections::VecDeque;

use crate::store::{Heard, Seq};

use super::writer::Notice;

/// What the feed does next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Send this event.
    Send(Seq, String),
    /// Read the store's events after this sequence number (a page), and [`LogFeed::read`]
    /// them.
    Read { after: Seq },
    /// Nothing to send until a notice comes ([`LogFeed::notice`]).
    Wait,
}

/// What a page read from the store says, to either feed (this one and a person's
/// `Projection`).
#[derive(Debug, PartialEq, Eq)]
pub enum Page {
    /// Its events are taken.
    Taken,
    /// The events after where the feed stands are gone (retention); nothing of the page was
    /// taken. The feed starts anew from a snapshot of the tenant ([`LogFeed::restart`],
    /// `Projection::reload`).
    Pruned,
}

/// Whether `notice` (`None`: some were missed, a lagging receiver) says the store may hold
/// events of `tenant` after `at` that came with no notice of this host's: another host's
/// append, or notices the store missed. (This host's stored events come as `Stored`.)
pub fn store_may_be_ahead(notice: Option<&Notice>, tenant: &str, at: Seq) -> bool {
    match notice {
        Some(Notice::Heard(Heard::Appended { tenant: of, seq })) => of == tenant && *seq > at,
        Some(Notice::Heard(Heard::Missed { tenant: of })) => of.as_deref().is_none_or(|t| t == tenant),
        Some(_) => false,
        None => true,
    }
}

#[derive(Debug)]
pub struct LogFeed {
    tenant: String,
    /// The last sequence number taken into `ready` (or sent).
    cursor: Seq,
    ready: VecDeque<(Seq, String)>,
    /// Everything stored up to the last notice is in `ready` or sent: live events can be
    /// taken from the notices instead of the store.
    caught_up: bool,
    /// Events read from the store per page.
    page: usize,
}

impl LogFeed {
    /// A feed of `tenant` after `cursor`, reading pages of `page` events.
    pub fn new(tenant: String, cursor: Seq, page: usize) -> LogFeed {
        LogFeed { tenant, cursor, ready: VecDeque::new(), caught_up: false, page: page.max(1) }
    }

    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The events per page it asks for.
    pub fn page(&self) -> usize {
        self.page
    }

    /// What to do now.
    pub fn step(&mut self) -> Step {
        if let Some((seq, event)) = self.ready.pop_front() {
            return Step::Send(seq, event);
        }
        if self.caught_up { Step::Wait } else { Step::Read { after: self.cursor } }
    }

    /// A page of the store's events after the cursor, as [`Step::Read`] asked.
    pub fn read(&mut self, page: Vec<(Seq, String)>) -> Page {
        if page.first().is_some_and(|(seq, _)| *seq > self.cursor + 1) {
            return Page::Pruned;
        }
        self.caught_up = page.len() < self.page;
        for (seq, event) in page {
            if seq > self.cursor {
                self.cursor = seq;
                self.ready.push_back((seq, event));
            }
        }
        Page::Taken
    }

    /// A snapshot as of `seq` was sent: the feed goes on after it.
    pub fn restart(&mut self, seq: Seq) {
        self.cursor = seq;
        self.ready.clear();
        self.caught_up = false;
    }

    /// A notice of the host's writer or of the store. This host's stored events are taken
    /// when they follow on from the cursor; after a gap, another host's append, missed
    /// notices or a lagging receiver (`None`), the store is read again.
    pub fn notice(&mut self, notice: Option<&Notice>) {
        match notice {
            Some(Notice::Stored { tenant, events }) if *tenant == self.tenant => self.follow(events),
            other => self.caught_up &= !store_may_be_ahead(other, &self.tenant, self.cursor),
        }
    }

    fn follow(&mut self, events: &[(Seq, String)]) {
        for (seq, event) in events {
            if *seq <= self.cursor {
                continue;
            }
            if *seq != self.cursor + 1 {
                self.caught_up = false;
                return;
            }
            self.cursor = *seq;
            self.ready.push_back((*seq, event.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(seqs: std::ops::RangeInclusive<Seq>) -> Vec<(Seq, String)> {
        seqs.map(|seq| (seq, format!("e{seq}"))).collect()
    }

    fn stored(tenant: &str, seqs: std::ops::RangeInclusive<Seq>) -> Notice {
        Notice::Stored { tenant: tenant.to_owned(), events: events(seqs).into() }
    }

    /// Drains what the feed sends until it asks for something else.
    fn sent(feed: &mut LogFeed) -> (Vec<Seq>, Step) {
        let mut sent = Vec::new();
        loop {
            match feed.step() {
                Step::Send(seq, event) => {
                    assert_eq!(event, format!("e{seq}"));
                    sent.push(seq);
                }
                other => return (sent, other),
            }
        }
    }

    #[test]
    fn it_reads_the_store_page_by_page_then_follows_the_notices() {
        let mut feed = LogFeed::new("acme".into(), 2, 3);
        assert_eq!(feed.step(), Step::Read { after: 2 });
        assert_eq!(feed.read(events(3..=5)), Page::Taken);
        assert_eq!(sent(&mut feed), (vec![3, 4, 5], Step::Read { after: 5 }), "a full page: there may be more");
        assert_eq!(feed.read(events(6..=6)), Page::Taken);
        assert_eq!(sent(&mut feed), (vec![6], Step::Wait), "a short page: caught up");
        feed.notice(Some(&stored("acme", 5..=8)));
        assert_eq!(sent(&mut feed), (vec![7, 8], Step::Wait), "what it had is not sent twice");
        feed.notice(Some(&stored("globex", 9..=9)));
        assert_eq!(sent(&mut feed), (vec![], Step::Wait), "another tenant's events are not its own");
    }

    #[test]
    fn a_gap_another_hosts_append_missed_notices_or_lagging_make_it_read_again() {
        let caught_up_at_4 = || {
            let mut feed = LogFeed::new("acme".into(), 0, 10);
            feed.read(events(1..=4));
            sent(&mut feed);
            feed
        };
        let mut feed = caught_up_at_4();
        feed.notice(Some(&stored("acme", 6..=7)));
        assert_eq!(sent(&mut feed), (vec![], Step::Read { after: 4 }), "event 5 is missing: read it");
        assert_eq!(feed.read(events(5..=7)), Page::Taken);
        assert_eq!(sent(&mut feed), (vec![5, 6, 7], Step::Wait));

        let heard = |tenant: &str, seq| Notice::Heard(Heard::Appended { tenant: tenant.into(), seq });
        let mut feed = caught_up_at_4();
        feed.notice(Some(&heard("acme", 4)));
        assert_eq!(feed.step(), Step::Wait, "an append it has already");
        feed.notice(Some(&heard("globex", 9)));
        assert_eq!(feed.step(), Step::Wait, "another tenant");
        feed.notice(Some(&heard("acme", 5)));
        assert_eq!(feed.step(), Step::Read { after: 4 });

        for missed in [None, Some("acme")] {
            let mut feed = caught_up_at_4();
            feed.notice(Some(&Notice::Heard(Heard::Missed { tenant: Some("globex".into()) })));
            assert_eq!(feed.step(), Step::Wait);
            feed.notice(Some(&Notice::Heard(Heard::Missed { tenant: missed.map(str::to_owned) })));
            assert_eq!(feed.step(), Step::Read { after: 4 }, "{missed:?}");
        }

        let mut feed = caught_up_at_4();
        feed.notice(None);
        assert_eq!(feed.step(), Step::Read { after: 4 }, "a lagging receiver");
    }

    #[test]
    fn events_pruned_after_the_cursor_are_a_snapshot_not_a_gap() {
        let mut feed = LogFeed::new("acme".into(), 3, 10);
        assert_eq!(feed.read(events(10..=12)), Page::Pruned);
        assert_eq!(feed.step(), Step::Read { after: 3 }, "nothing of the page was taken");
        feed.restart(12);
        assert_eq!(feed.step(), Step::Read { after: 12 });
        assert_eq!(feed.read(events(13..=13)), Page::Taken);
        assert_eq!(sent(&mut feed), (vec![13], Step::Wait));
    }
}
