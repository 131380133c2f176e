//! The durable event log: append-only, a sequence per tenant, snapshots, the first
//! outcome of every command id (so a retried command returns that outcome instead of
//! deciding again), and the hashes of the access tokens. Behind [`EventStore`] so a PostgreSQL backend can follow; SQLite —
//! one file, WAL, `synchronous=FULL` — is the default: an append returns only once its
//! transaction is on disk, which is what lets the server acknowledge it.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

/// Position of an event in its tenant's log, from 1.
pub type Seq = u64;

#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    #[error("there is no tenant {0}")]
    UnknownTenant(String),
    #[error("tenant {0} exists already")]
    TenantExists(String),
    #[error("the fingerprint {0} fits more than one token; give more of its digits")]
    Ambiguous(String),
    #[error("storage failed: {0}")]
    Backend(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

/// One decided command, ready to be stored.
#[derive(Clone, Copy, Debug)]
pub struct Append<'a> {
    pub tenant: &'a str,
    pub command_id: Option<&'a str>,
    pub outcome: &'a str,
    pub events: &'a [String],
}

/// Who an access token speaks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenGrant {
    pub tenant: String,
    /// A user id of the tenant, or `system`.
    pub actor: String,
}

/// Which of a tenant's tokens to revoke.
#[derive(Clone, Copy, Debug)]
pub enum TokenSelector<'a> {
    /// Every token of this actor (a person who left, a compromised integration).
    Actor(&'a str),
    /// The one token whose hash starts with these hex digits (its fingerprint).
    Fingerprint(&'a str),
}

/// Where tenants' logs live.
pub trait EventStore: Send {
    /// Registers a tenant with its description (the base its state is folded from).
    fn create_tenant(&mut self, tenant: &str, description: &str) -> Result<(), StoreError>;
    /// Every tenant, by id.
    fn tenants(&self) -> Result<Vec<String>, StoreError>;
    fn description(&self, tenant: &str) -> Result<String, StoreError>;
    /// Stores the outcome of one decided command atomically and durably: its events (each
    /// given the next sequence number) and, when the command has an id, the outcome for
    /// retries. Returns the tenant's last sequence number afterwards.
    fn append(
        &mut self,
        tenant: &str,
        command_id: Option<&str>,
        outcome: &str,
        events: &[String],
    ) -> Result<Seq, StoreError> {
        let last = self.append_all(&[Append { tenant, command_id, outcome, events }])?;
        Ok(last.first().copied().unwrap_or_default())
    }
    /// Stores several decided commands in one transaction (group commit: one sync to disk
    /// for all of them), all or none. Returns each tenant's last sequence number after
    /// each command.
    fn append_all(&mut self, appends: &[Append<'_>]) -> Result<Vec<Seq>, StoreError>;
    /// The stored outcome of command `id`, if it was decided before.
    fn outcome(&self, tenant: &str, id: &str) -> Result<Option<String>, StoreError>;
    /// Up to `limit` events after `after`, in order.
    fn events_after(&self, tenant: &str, after: Seq, limit: usize) -> Result<Vec<(Seq, String)>, StoreError>;
    fn last_seq(&self, tenant: &str) -> Result<Seq, StoreError>;
    /// Stores the state as of event `seq`.
    fn put_snapshot(&mut self, tenant: &str, seq: Seq, snapshot: &str) -> Result<(), StoreError>;
    /// The newest snapshot and the sequence number it is as of.
    fn latest_snapshot(&self, tenant: &str) -> Result<Option<(Seq, String)>, StoreError>;
    /// Records an access token by its hash (the token itself is never stored).
    fn put_token(&mut self, hash: &str, grant: &TokenGrant) -> Result<(), StoreError>;
    fn token(&self, hash: &str) -> Result<Option<TokenGrant>, StoreError>;
    /// A tenant's tokens as (hash, actor), by actor.
    fn tokens_of(&self, tenant: &str) -> Result<Vec<(String, String)>, StoreError>;
    /// Forgets the selected tokens of a tenant; returns how many there were. A fingerprint
    /// that fits more than one token revokes none (`Ambiguous`).
    fn revoke_tokens(&mut self, tenant: &str, which: TokenSelector<'_>) -> Result<usize, StoreError>;
}

/// The log's file name in a server's data folder.
pub const DB_FILE: &str = "agentstate.db";

/// The SQLite event store: one database file holding every tenant.
#[derive(Debug)]
pub struct SqliteStore {
    db: Connection,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tenants (
    id TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    last_seq INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE IF NOT EXISTS events (
    tenant TEXT NOT NULL REFERENCES tenants(id),
    seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (tenant, seq)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS commands (
    tenant TEXT NOT NULL REFERENCES tenants(id),
    id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshots (
    tenant TEXT NOT NULL REFERENCES tenants(id),
    seq INTEGER NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (tenant, seq)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tokens (
    hash TEXT PRIMARY KEY,
    tenant TEXT NOT NULL REFERENCES tenants(id),
    actor TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS events_are_append_only_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_are_append_only_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
";

impl SqliteStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let db = Connection::open(path)?;
        // WAL for readers beside the writer; FULL so a committed append survives a power
        // cut, not only a crash of the process.
        let mode: String = db.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Backend(format!("the database refused WAL mode ({mode})")));
        }
        db.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;")?;
        db.execute_batch(SCHEMA)?;
        Ok(SqliteStore { db })
    }

    /// Opens (or creates) the store of a server's data folder, creating the folder too.
    pub fn open_in(data: &Path) -> Result<SqliteStore, String> {
        std::fs::create_dir_all(data).map_err(|e| format!("cannot create {}: {e}", data.display()))?;
        let path = data.join(DB_FILE);
        SqliteStore::open(&path).map_err(|e| format!("{}: {e}", path.display()))
    }

    fn known(&self, tenant: &str) -> Result<Seq, StoreError> {
        self.db
            .query_row("SELECT last_seq FROM tenants WHERE id = ?1", [tenant], |r| r.get::<_, i64>(0))
            .optional()?
            .map(|seq| seq as Seq)
            .ok_or_else(|| StoreError::UnknownTenant(tenant.to_owned()))
    }
}

impl EventStore for SqliteStore {
    fn create_tenant(&mut self, tenant: &str, description: &str) -> Result<(), StoreError> {
        let inserted = self
            .db
            .execute("INSERT OR IGNORE INTO tenants (id, description) VALUES (?1, ?2)", [tenant, description])?;
        if inserted == 0 {
            return Err(StoreError::TenantExists(tenant.to_owned()));
        }
        Ok(())
    }

    fn tenants(&self) -> Result<Vec<String>, StoreError> {
        let mut query = self.db.prepare("SELECT id FROM tenants ORDER BY id")?;
        let ids = query.query_map([], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
        Ok(ids)
    }

    fn description(&self, tenant: &str) -> Result<String, StoreError> {
        self.db
            .query_row("SELECT description FROM tenants WHERE id = ?1", [tenant], |r| r.get(0))
            .optional()?
            .ok_or_else(|| StoreError::UnknownTenant(tenant.to_owned()))
    }

    fn append_all(&mut self, appends: &[Append<'_>]) -> Result<Vec<Seq>, StoreError> {
        let mut last: BTreeMap<&str, Seq> = BTreeMap::new();
        for append in appends {
            if !last.contains_key(append.tenant) {
                last.insert(append.tenant, self.known(append.tenant)?);
            }
        }
        let tx = self.db.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut seqs = Vec::with_capacity(appends.len());
        {
            let mut insert = tx.prepare_cached("INSERT INTO events (tenant, seq, event) VALUES (?1, ?2, ?3)")?;
            let mut remember = tx.prepare_cached("INSERT INTO commands (tenant, id, outcome) VALUES (?1, ?2, ?3)")?;
            for append in appends {
                let seq = last.entry(append.tenant).or_default();
                for event in append.events {
                    *seq += 1;
                    insert.execute(params![append.tenant, *seq as i64, event])?;
                }
                if let Some(id) = append.command_id {
                    remember.execute(params![append.tenant, id, append.outcome])?;
                }
                seqs.push(*seq);
            }
            let mut advance = tx.prepare_cached("UPDATE tenants SET last_seq = ?2 WHERE id = ?1")?;
            for (tenant, seq) in &last {
                advance.execute(params![tenant, *seq as i64])?;
            }
        }
        tx.commit()?;
        Ok(seqs)
    }

    fn outcome(&self, tenant: &str, id: &str) -> Result<Option<String>, StoreError> {
        self.known(tenant)?;
        Ok(self
            .db
            .query_row("SELECT outcome FROM commands WHERE tenant = ?1 AND id = ?2", [tenant, id], |r| r.get(0))
            .optional()?)
    }

    fn events_after(&self, tenant: &str, after: Seq, limit: usize) -> Result<Vec<(Seq, String)>, StoreError> {
        self.known(tenant)?;
        let mut query = self
            .db
            .prepare_cached("SELECT seq, event FROM events WHERE tenant = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3")?;
        let rows = query
            .query_map(params![tenant, after as i64, limit.min(i64::MAX as usize) as i64], |r| {
                Ok((r.get::<_, i64>(0)? as Seq, r.get(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn last_seq(&self, tenant: &str) -> Result<Seq, StoreError> {
        self.known(tenant)
    }

    fn put_snapshot(&mut self, tenant: &str, seq: Seq, snapshot: &str) -> Result<(), StoreError> {
        self.known(tenant)?;
        self.db.execute(
            "INSERT OR REPLACE INTO snapshots (tenant, seq, state) VALUES (?1, ?2, ?3)",
            params![tenant, seq as i64, snapshot],
        )?;
        Ok(())
    }

    fn latest_snapshot(&self, tenant: &str) -> Result<Option<(Seq, String)>, StoreError> {
        self.known(tenant)?;
        Ok(self
            .db
            .query_row("SELECT seq, state FROM snapshots WHERE tenant = ?1 ORDER BY seq DESC LIMIT 1", [tenant], |r| {
                Ok((r.get::<_, i64>(0)? as Seq, r.get(1)?))
            })
            .optional()?)
    }

    fn put_token(&mut self, hash: &str, grant: &TokenGrant) -> Result<(), StoreError> {
        self.known(&grant.tenant)?;
        self.db.execute(
            "INSERT INTO tokens (hash, tenant, actor) VALUES (?1, ?2, ?3)",
            params![hash, grant.tenant, grant.actor],
        )?;
        Ok(())
    }

    fn token(&self, hash: &str) -> Result<Option<TokenGrant>, StoreError> {
        Ok(self
            .db
            .query_row("SELECT tenant, actor FROM tokens WHERE hash = ?1", [hash], |r| {
                Ok(TokenGrant { tenant: r.get(0)?, actor: r.get(1)? })
            })
            .optional()?)
    }

    fn tokens_of(&self, tenant: &str) -> Result<Vec<(String, String)>, StoreError> {
        self.known(tenant)?;
        let mut query = self.db.prepare("SELECT hash, actor FROM tokens WHERE tenant = ?1 ORDER BY actor, hash")?;
        let rows = query.query_map([tenant], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn revoke_tokens(&mut self, tenant: &str, which: TokenSelector<'_>) -> Result<usize, StoreError> {
        self.known(tenant)?;
        let revoked = match which {
            TokenSelector::Actor(actor) => {
                self.db.execute("DELETE FROM tokens WHERE tenant = ?1 AND actor = ?2", params![tenant, actor])?
            }
            TokenSelector::Fingerprint(prefix) => {
                // substr, not LIKE: the prefix is data, never a pattern.
                let fits = "tenant = ?1 AND substr(hash, 1, length(?2)) = lower(?2)";
                let tx = self.db.transaction()?;
                let count: i64 =
                    tx.query_row(&format!("SELECT count(*) FROM tokens WHERE {fits}"), params![tenant, prefix], |r| {
                        r.get(0)
                    })?;
                if count > 1 {
                    return Err(StoreError::Ambiguous(prefix.to_owned()));
                }
                let revoked = tx.execute(&format!("DELETE FROM tokens WHERE {fits}"), params![tenant, prefix])?;
                tx.commit()?;
                revoked
            }
        };
        Ok(revoked)
    }
}

/// The server holds its store as `Box<dyn EventStore>`, so a backend is chosen at start.
impl EventStore for Box<dyn EventStore> {
    fn create_tenant(&mut self, tenant: &str, description: &str) -> Result<(), StoreError> {
        (**self).create_tenant(tenant, description)
    }
    fn tenants(&self) -> Result<Vec<String>, StoreError> {
        (**self).tenants()
    }
    fn description(&self, tenant: &str) -> Result<String, StoreError> {
        (**self).description(tenant)
    }
    fn append_all(&mut self, appends: &[Append<'_>]) -> Result<Vec<Seq>, StoreError> {
        (**self).append_all(appends)
    }
    fn outcome(&self, tenant: &str, id: &str) -> Result<Option<String>, StoreError> {
        (**self).outcome(tenant, id)
    }
    fn events_after(&self, tenant: &str, after: Seq, limit: usize) -> Result<Vec<(Seq, String)>, StoreError> {
        (**self).events_after(tenant, after, limit)
    }
    fn last_seq(&self, tenant: &str) -> Result<Seq, StoreError> {
        (**self).last_seq(tenant)
    }
    fn put_snapshot(&mut self, tenant: &str, seq: Seq, snapshot: &str) -> Result<(), StoreError> {
        (**self).put_snapshot(tenant, seq, snapshot)
    }
    fn latest_snapshot(&self, tenant: &str) -> Result<Option<(Seq, String)>, StoreError> {
        (**self).latest_snapshot(tenant)
    }
    fn put_token(&mut self, hash: &str, grant: &TokenGrant) -> Result<(), StoreError> {
        (**self).put_token(hash, grant)
    }
    fn token(&self, hash: &str) -> Result<Option<TokenGrant>, StoreError> {
        (**self).token(hash)
    }
    fn tokens_of(&self, tenant: &str) -> Result<Vec<(String, String)>, StoreError> {
        (**self).tokens_of(tenant)
    }
    fn revoke_tokens(&mut self, tenant: &str, which: TokenSelector<'_>) -> Result<usize, StoreError> {
        (**self).revoke_tokens(tenant, which)
    }
}
