//! The SQLite backend: one database file holding every tenant, WAL, `synchronous=FULL` —
//! an append returns only once its transaction is on disk. One host writes to it.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::tokens::{Dialect, Param, SqlBackend, Statements, Value};
use super::{Append, EventLog, LockedLogs, LogBase, Pruned, Seq, StoreError, StoredOutcome, millis};

mod migrations {
    refinery::embed_migrations!("migrations/sqlite");
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

/// The log's file name in a server's data folder.
pub const DB_FILE: &str = "agentstate.db";

/// Events a tenant's log grows by before they are filed in the history index, together,
/// in the append that reaches this many. An event filed alone wrote a page of the index
/// (each person's entries lie apart) — about 6 µs of every command; a history page reads
/// the events not filed yet from the log (at most this many, newest first).
const FILE_EVERY: Seq = 1024;

/// The SQLite event store: one database file holding every tenant.
#[derive(Debug)]
pub struct SqliteStore {
    db: Connection,
}

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
        let mut db = db;
        migrations::migrations::runner()
            .run(&mut db)
            .map_err(|e| StoreError::Backend(format!("cannot migrate the schema: {e}")))?;
        index_backlog(&mut db)?;
        Ok(SqliteStore { db })
    }

    /// Opens (or creates) the store of a server's data folder, creating the folder too.
    pub fn open_in(data: &Path) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(data).map_err(|e| StoreError::setup(data.display(), format!("cannot create: {e}")))?;
        let path = data.join(DB_FILE);
        private(&path).map_err(|e| StoreError::setup(path.display(), e))?;
        SqliteStore::open(&path).map_err(|e| StoreError::setup(path.display(), e))
    }

    fn known(&self, tenant: &str) -> Result<Seq, StoreError> {
        self.db
            .query_row("SELECT last_seq FROM tenants WHERE id = ?1", [tenant], |r| r.get::<_, i64>(0))
            .optional()?
            .map(|seq| seq as Seq)
            .ok_or_else(|| StoreError::UnknownTenant(tenant.to_owned()))
    }
}

impl EventLog for SqliteStore {
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
        let tx = self.db.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let seqs = append_in(&tx, appends)?;
        tx.commit()?;
        Ok(seqs)
    }

    fn locked(
        &mut self,
        _tenants: &[&str],
        work: &mut dyn FnMut(&mut dyn LockedLogs) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        // IMMEDIATE takes the database's write lock: no other writer until the commit.
        let tx = self.db.transaction_with_behavior(TransactionBehavior::Immediate)?;
        work(&mut Locked { tx: &tx })?;
        tx.commit()?;
        Ok(())
    }

    fn outcome(&self, tenant: &str, actor: &str, id: &str) -> Result<Option<String>, StoreError> {
        self.known(tenant)?;
        Ok(self
            .db
            .query_row(
                "SELECT outcome FROM commands WHERE tenant = ?1 AND id = ?3 AND actor = ?2",
                [tenant, actor, id],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn outcomes(&self, tenant: &str, ids: &[&str]) -> Result<HashMap<String, Vec<StoredOutcome>>, StoreError> {
        self.known(tenant)?;
        // By id (the key's prefix), whoever sent it.
        let mut query =
            self.db.prepare_cached("SELECT outcome, actor, log_end FROM commands WHERE tenant = ?1 AND id = ?2")?;
        let mut found: HashMap<String, Vec<StoredOutcome>> = HashMap::new();
        for id in ids {
            let rows = query.query_map([tenant, id], |r| {
                let log_end: Option<i64> = r.get(2)?;
                let actor: String = r.get(1)?;
                Ok(StoredOutcome {
                    outcome: r.get(0)?,
                    actor: Some(actor).filter(|a| !a.is_empty()),
                    log_end: log_end.map(|s| s as Seq),
                })
            })?;
            for stored in rows {
                found.entry((*id).to_owned()).or_default().push(stored?);
            }
        }
        Ok(found)
    }

    fn events_after(&self, tenant: &str, after: Seq, limit: usize) -> Result<Vec<(Seq, String)>, StoreError> {
        let rows = events_after_in(&self.db, tenant, after, limit)?;
        if rows.is_empty() {
            // Only an empty answer can come from a tenant that does not exist.
            self.known(tenant)?;
        }
        Ok(rows)
    }

    fn history(&self, tenant: &str, user: &str, before: Seq, limit: usize) -> Result<Vec<(Seq, String)>, StoreError> {
        // One read transaction: where the index ends and what it holds, as of one moment
        // (the writer files on meanwhile).
        let tx = self.db.unchecked_transaction()?;
        let filed_to = tx
            .query_row("SELECT filed_to FROM tenants WHERE id = ?1", [tenant], |r| r.get::<_, i64>(0))
            .optional()?
            .ok_or_else(|| StoreError::UnknownTenant(tenant.to_owned()))? as Seq;
        let before = before.min(i64::MAX as u64);
        let mut rows = Vec::new();
        // The newest events, not filed yet (fewer than FILE_EVERY): read from the log.
        if before > filed_to + 1 {
            let mut tail = tx.prepare_cached(
                "SELECT seq, event FROM events WHERE tenant = ?1 AND seq > ?2 AND seq < ?3 ORDER BY seq DESC",
            )?;
            let mut found = tail.query(params![tenant, filed_to as i64, before as i64])?;
            while rows.len() < limit
                && let Some(row) = found.next()?
            {
                let event: String = row.get(1)?;
                if super::touched(&event).iter().any(|u| u == user) {
                    rows.push((row.get::<_, i64>(0)? as Seq, event));
                }
            }
        }
        if rows.len() < limit {
            let mut filed = tx.prepare_cached(
                "SELECT e.seq, e.event FROM user_events u JOIN events e ON e.tenant = u.tenant AND e.seq = u.seq \
                 WHERE u.tenant = ?1 AND u.user_id = ?2 AND u.seq < ?3 ORDER BY u.seq DESC LIMIT ?4",
            )?;
            let below = before.min(filed_to + 1) as i64;
            let wanted = (limit - rows.len()).min(i64::MAX as usize) as i64;
            let found = filed
                .query_map(params![tenant, user, below, wanted], |r| Ok((r.get::<_, i64>(0)? as Seq, r.get(1)?)))?;
            for row in found {
                rows.push(row?);
            }
        }
        Ok(rows)
    }

    fn last_seq(&self, tenant: &str) -> Result<Seq, StoreError> {
        self.known(tenant)
    }

    fn put_snapshot(&mut self, tenant: &str, seq: Seq, snapshot: &str) -> Result<(), StoreError> {
        self.known(tenant)?;
        self.db.execute(
            "INSERT OR IGNORE INTO snapshots (tenant, seq, state) VALUES (?1, ?2, ?3)",
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

    fn snapshot_as_of(&self, tenant: &str, seq: Seq) -> Result<Option<(Seq, String)>, StoreError> {
        self.known(tenant)?;
        Ok(self
            .db
            .query_row(
                "SELECT seq, state FROM snapshots WHERE tenant = ?1 AND seq <= ?2 ORDER BY seq DESC LIMIT 1",
                params![tenant, seq as i64],
                |r| Ok((r.get::<_, i64>(0)? as Seq, r.get(1)?)),
            )
            .optional()?)
    }

    fn log_base(&self, tenant: &str) -> Result<Option<LogBase>, StoreError> {
        let (seq, at) = self
            .db
            .query_row("SELECT base_seq, base_at FROM tenants WHERE id = ?1", [tenant], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Option<i64>>(1)?))
            })
            .optional()?
            .ok_or_else(|| StoreError::UnknownTenant(tenant.to_owned()))?;
        Ok(at.map(|at| LogBase { seq: seq as Seq, at: at.max(0) as u64 }))
    }

    fn rebase(&mut self, tenant: &str, expected: Seq, base: LogBase, snapshot: &str) -> Result<Pruned, StoreError> {
        let tx = self.db.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let moved = tx.execute(
            "UPDATE tenants SET base_seq = ?2, base_at = ?3 WHERE id = ?1 AND base_seq = ?4 AND last_seq >= ?2",
            params![tenant, base.seq as i64, millis(base.at), expected as i64],
        )?;
        if moved == 0 {
            drop(tx);
            self.known(tenant)?;
            return Err(StoreError::Conflict(tenant.to_owned()));
        }
        tx.execute(
            "INSERT OR IGNORE INTO snapshots (tenant, seq, state) VALUES (?1, ?2, ?3)",
            params![tenant, base.seq as i64, snapshot],
        )?;
        let events = tx.execute(
            "DELETE FROM events WHERE tenant = ?1 AND seq > ?2 AND seq <= ?3",
            params![tenant, expected as i64, base.seq as i64],
        )?;
        tx.execute(
            "DELETE FROM user_events WHERE tenant = ?1 AND seq > ?2 AND seq <= ?3",
            params![tenant, expected as i64, base.seq as i64],
        )?;
        let snapshots =
            tx.execute("DELETE FROM snapshots WHERE tenant = ?1 AND seq < ?2", params![tenant, base.seq as i64])?;
        let outcomes =
            tx.execute("DELETE FROM commands WHERE tenant = ?1 AND log_end < ?2", params![tenant, base.seq as i64])?;
        tx.commit()?;
        Ok(Pruned { events: events as u64, outcomes: outcomes as u64, snapshots: snapshots as u64 })
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.db.query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    /// The query planner's statistics after a load (`PRAGMA optimize`, as SQLite advises
    /// before closing a connection that changed much), and the load's write-ahead log moved
    /// into the database file and synced (a `TRUNCATE` checkpoint): else the next writer's
    /// commits pay for checkpointing it, and the disk for writing it back, under traffic.
    fn settle(&mut self) -> Result<(), StoreError> {
        self.db.execute_batch("PRAGMA optimize")?;
        self.db.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }
}

/// The store inside an IMMEDIATE transaction.
struct Locked<'a> {
    tx: &'a rusqlite::Transaction<'a>,
}

impl LockedLogs for Locked<'_> {
    fn events_after(&mut self, tenant: &str, after: Seq, limit: usize) -> Result<Vec<(Seq, String)>, StoreError> {
        events_after_in(self.tx, tenant, after, limit)
    }

    fn append_all(&mut self, appends: &[Append<'_>]) -> Result<Vec<Seq>, StoreError> {
        // A savepoint: a refused append leaves nothing behind in the transaction.
        self.tx.execute_batch("SAVEPOINT append")?;
        let appended = append_in(self.tx, appends);
        if appended.is_err() {
            self.tx.execute_batch("ROLLBACK TO append")?;
        }
        self.tx.execute_batch("RELEASE append")?;
        appended
    }
}

/// Appends inside the caller's transaction, conditional on where each tenant's log ends.
fn append_in(db: &Connection, appends: &[Append<'_>]) -> Result<Vec<Seq>, StoreError> {
    // Each tenant's log end as the appends go on, and where its history index ends.
    let mut ends: BTreeMap<&str, (Seq, Seq)> = BTreeMap::new();
    for append in appends {
        if ends.contains_key(append.tenant) {
            continue;
        }
        let (stored, filed_to) = db
            .query_row("SELECT last_seq, filed_to FROM tenants WHERE id = ?1", [append.tenant], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
            })
            .optional()?
            .ok_or_else(|| StoreError::UnknownTenant(append.tenant.to_owned()))?;
        if stored as Seq != append.expected {
            return Err(StoreError::Conflict(append.tenant.to_owned()));
        }
        ends.insert(append.tenant, (append.expected, filed_to as Seq));
    }
    let mut seqs = Vec::with_capacity(appends.len());
    let mut insert = db.prepare_cached("INSERT INTO events (tenant, seq, event) VALUES (?1, ?2, ?3)")?;
    let mut remember = db.prepare_cached(
        "INSERT OR IGNORE INTO commands (tenant, id, outcome, log_end, actor) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for append in appends {
        let (seq, _) = ends.entry(append.tenant).or_default();
        // Where the log ended when the command was decided: its outcome is pruned with
        // the events before it.
        let log_end = *seq as i64;
        for event in append.events {
            *seq += 1;
            insert.execute(params![append.tenant, *seq as i64, event])?;
        }
        if let Some(id) = append.command_id
            && remember.execute(params![append.tenant, id, append.outcome, log_end, append.actor])? == 0
        {
            return Err(StoreError::Conflict(append.tenant.to_owned()));
        }
        seqs.push(*seq);
    }
    let mut advance = db.prepare_cached("UPDATE tenants SET last_seq = ?2, filed_to = ?3 WHERE id = ?1")?;
    for (tenant, (seq, mut filed_to)) in ends {
        if seq - filed_to >= FILE_EVERY {
            file(db, tenant, &events_after_in(db, tenant, filed_to, usize::MAX)?)?;
            filed_to = seq;
        }
        advance.execute(params![tenant, seq as i64, filed_to as i64])?;
    }
    Ok(seqs)
}

/// Files stored events in the history index under the people they touch, in the index's
/// order (each page of it is visited once). Filing an event twice changes nothing.
fn file(db: &Connection, tenant: &str, events: &[(Seq, String)]) -> Result<(), StoreError> {
    let mut entries: Vec<(String, Seq)> =
        events.iter().flat_map(|(seq, event)| super::touched(event).into_iter().map(|user| (user, *seq))).collect();
    entries.sort_unstable();
    let mut insert =
        db.prepare_cached("INSERT OR IGNORE INTO user_events (tenant, user_id, seq) VALUES (?1, ?2, ?3)")?;
    for (user, seq) in entries {
        insert.execute(params![tenant, user, seq as i64])?;
    }
    Ok(())
}

/// Makes the database file readable by its owner only — it holds who did what when, and the
/// tokens' hashes — created so before SQLite first opens it (its `-wal` and `-shm` files
/// take the database's permissions), an older one narrowed.
fn private(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        // Created only if it is not there: a handle opened and closed on a database this
        // process has open would drop every POSIX lock the process holds on it (SQLite's
        // among them), and another process could then take the store for unused — a
        // `sqlite3` closing last checkpoints and deletes the WAL the server still writes to.
        // (`create_new` opens nothing when the file exists.)
        match std::fs::OpenOptions::new().create_new(true).append(true).mode(0o600).open(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        for file in [path.to_owned(), path.with_extension("db-wal"), path.with_extension("db-shm")] {
            if file.exists() {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Files the events stored before the history index existed (up to each tenant's
/// `unindexed_to`) under the people they touch, a chunk per transaction; a step done twice
/// changes nothing, so an interrupted run simply goes on at the next start.
fn index_backlog(db: &mut Connection) -> Result<(), StoreError> {
    let backlog: Vec<(String, i64, i64)> = db
        .prepare("SELECT id, base_seq, unindexed_to FROM tenants WHERE unindexed_to > base_seq")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (tenant, base, end) in backlog {
        let mut after = base as Seq;
        loop {
            let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let chunk = events_after_in(&tx, &tenant, after, super::INDEX_CHUNK)?;
            let chunk: Vec<_> = chunk.into_iter().take_while(|(seq, _)| *seq <= end as Seq).collect();
            file(&tx, &tenant, &chunk)?;
            let done = chunk.len() < super::INDEX_CHUNK;
            if done {
                tx.execute("UPDATE tenants SET unindexed_to = 0 WHERE id = ?1", [&tenant])?;
            }
            tx.commit()?;
            match chunk.last() {
                Some((last, _)) if !done => after = *last,
                _ => break,
            }
        }
    }
    Ok(())
}

fn events_after_in(db: &Connection, tenant: &str, after: Seq, limit: usize) -> Result<Vec<(Seq, String)>, StoreError> {
    let mut query =
        db.prepare_cached("SELECT seq, event FROM events WHERE tenant = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3")?;
    let rows = query
        .query_map(params![tenant, after as i64, limit.min(i64::MAX as usize) as i64], |r| {
            Ok((r.get::<_, i64>(0)? as Seq, r.get(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

impl SqlBackend for SqliteStore {
    const DIALECT: Dialect = Dialect::Sqlite;

    fn statements<T>(&self, work: impl FnOnce(&mut dyn Statements) -> Result<T, StoreError>) -> Result<T, StoreError> {
        work(&mut Numbered(&self.db))
    }

    fn transaction<T>(&self, work: impl FnOnce(&mut dyn Statements) -> Result<T, StoreError>) -> Result<T, StoreError> {
        // One connection, used by one thread: no other transaction can be open on it.
        let tx = self.db.unchecked_transaction()?;
        let done = work(&mut Numbered(&tx))?;
        tx.commit()?;
        Ok(done)
    }
}

/// Statements on SQLite, their `$N` parameters bound as `?N` (by number, as PostgreSQL).
struct Numbered<'a>(&'a Connection);

impl Numbered<'_> {
    fn statement(&self, sql: &str) -> Result<rusqlite::CachedStatement<'_>, StoreError> {
        Ok(self.0.prepare_cached(&sql.replace('$', "?"))?)
    }
}

impl Statements for Numbered<'_> {
    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64, StoreError> {
        let changed = self.statement(sql)?.execute(rusqlite::params_from_iter(params))?;
        Ok(changed as u64)
    }

    fn rows(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Vec<Value>>, StoreError> {
        let mut statement = self.statement(sql)?;
        let columns = statement.column_count();
        let mut rows = statement.query(rusqlite::params_from_iter(params))?;
        let mut read = Vec::new();
        while let Some(row) = rows.next()? {
            let values = (0..columns).map(|i| match row.get_ref(i)? {
                ValueRef::Null => Ok(Value::Null),
                ValueRef::Integer(int) => Ok(Value::Int(int)),
                ValueRef::Text(text) => Ok(Value::Text(String::from_utf8_lossy(text).into_owned())),
                other => Err(StoreError::Backend(format!("column {i}: unexpected {:?}", other.data_type()))),
            });
            read.push(values.collect::<Result<_, StoreError>>()?);
        }
        Ok(read)
    }
}

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Param::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
            Param::Int(int) => ToSqlOutput::Owned(rusqlite::types::Value::Integer(*int)),
        })
    }
}
