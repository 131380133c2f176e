//! The credentials this host has looked up: whom each speaks for, trusted for a few
//! seconds ([`TTL`]) before the store is asked again, and remembered a while longer as once
//! valid ([`KNOWN_FOR`]) so that its recheck skips the guess budget. Bounded: at
//! [`MAX_ENTRIES`] the stale entries go, and if that frees too little, all of them — the
//! cache only saves lookups, so forgetting is always safe.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use super::auth::Credential;
use crate::store::TokenGrant;

/// How long a looked-up token is trusted before the store is asked again: a token revoked
/// with `agentstate token revoke` (another process) is refused at most this much later.
pub const TTL: Duration = Duration::from_secs(5);
/// How long a credential that was valid is rechecked as one (never refused for its
/// address's unknown tokens): a dashboard that was idle over lunch still counts.
pub const KNOWN_FOR: Duration = Duration::from_secs(3600);
/// Entries kept at most (each about 300 bytes).
pub const MAX_ENTRIES: usize = 65_536;

#[derive(Debug)]
pub struct GrantCache {
    max: usize,
    entries: RwLock<HashMap<Credential, Entry>>,
}

#[derive(Clone, Debug)]
struct Entry {
    grant: TokenGrant,
    /// The hash of the credential's token (a session's own).
    token: String,
    at: Instant,
}

/// What the cache knows of a credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cached {
    /// Looked up within [`TTL`]: whom it speaks for and its token's hash.
    Fresh(TokenGrant, String),
    /// Valid when looked up within [`KNOWN_FOR`]; to be asked again.
    Known,
    Unknown,
}

impl GrantCache {
    pub fn new(max: usize) -> GrantCache {
        GrantCache { max: max.max(1), entries: RwLock::default() }
    }

    pub fn get(&self, credential: &Credential, now: Instant) -> Cached {
        let Ok(entries) = self.entries.read() else { return Cached::Unknown };
        match entries.get(credential) {
            Some(entry) if now.saturating_duration_since(entry.at) < TTL => {
                Cached::Fresh(entry.grant.clone(), entry.token.clone())
            }
            Some(entry) if now.saturating_duration_since(entry.at) < KNOWN_FOR => Cached::Known,
            _ => Cached::Unknown,
        }
    }

    /// Records a credential the store just said is valid.
    pub fn put(&self, credential: &Credential, grant: &TokenGrant, token: &str, now: Instant) {
        let Ok(mut entries) = self.entries.write() else { return };
        if entries.len() >= self.max && !entries.contains_key(credential) {
            let before = entries.len();
            entries.retain(|_, entry| now.saturating_duration_since(entry.at) < KNOWN_FOR);
            // Few were stale: everything goes rather than scanning again at the next insert.
            if entries.len() > before - before / 4 {
                entries.clear();
            }
        }
        entries.insert(credential.clone(), Entry { grant: grant.clone(), token: token.to_owned(), at: now });
    }

    /// Forgets a credential (the store no longer knows it, or it was signed out here).
    pub fn forget(&self, credential: &Credential) {
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(credential);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.read().map_or(0, |e| e.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> TokenGrant {
        TokenGrant { tenant: "acme".into(), actor: "ana".into() }
    }

    fn bearer(n: usize) -> Credential {
        Credential::Bearer(format!("hash{n}"))
    }

    #[test]
    fn fresh_then_known_then_forgotten() {
        let cache = GrantCache::new(16);
        let now = Instant::now();
        assert_eq!(cache.get(&bearer(1), now), Cached::Unknown);
        cache.put(&bearer(1), &grant(), "t1", now);
        assert_eq!(cache.get(&bearer(1), now + TTL / 2), Cached::Fresh(grant(), "t1".into()));
        assert_eq!(cache.get(&bearer(1), now + TTL), Cached::Known);
        assert_eq!(cache.get(&bearer(1), now + KNOWN_FOR), Cached::Unknown);
        cache.put(&bearer(2), &grant(), "t2", now);
        cache.forget(&bearer(2));
        assert_eq!(cache.get(&bearer(2), now), Cached::Unknown);
    }

    #[test]
    fn never_holds_more_than_its_bound() {
        let cache = GrantCache::new(100);
        let start = Instant::now();
        // Many credentials over a long time: the long-idle ones are dropped first.
        for n in 0..1_000 {
            cache.put(&bearer(n), &grant(), "t", start + Duration::from_secs(n as u64 * 60));
            assert!(cache.len() <= 100, "{} entries", cache.len());
        }
        let late = start + Duration::from_secs(999 * 60);
        assert!(matches!(cache.get(&bearer(999), late), Cached::Fresh(..)), "the newest is kept");
        // Many at once, none stale: still bounded.
        let cache = GrantCache::new(100);
        for n in 0..1_000 {
            cache.put(&bearer(n), &grant(), "t", start);
            assert!(cache.len() <= 100, "{} entries", cache.len());
        }
        assert!(matches!(cache.get(&bearer(999), start), Cached::Fresh(..)));
    }
}
