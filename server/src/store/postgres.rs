//! The PostgreSQL backend, shared by any number of hosts. An append locks its tenant's row
//! and stores only if the log still ends where the appending host thinks it does (else
//! `Conflict`); in the same transaction it notifies the tenant's channel (`agentstate_`
//! and the MD5 of its id; `SEQ:TENANT`), which PostgreSQL delivers to every host listening
//! for that tenant once — and only if — the transaction commits. The connection is
//! re-opened after PostgreSQL went away, so a host answers 503 while it is down and
//! recovers by itself.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use postgres::error::SqlState;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{ToSql, Type};
use postgres::{Client, GenericClient, Statement};

use super::tokens::{Dialect, Param, SqlBackend, Statements, Value};
use super::{Append, EventLog, Followed, Heard, LockedLogs, LogBase, Pruned, Seq, StoreError, StoredOutcome, millis};

mod tls;

use tls::Target;

mod migrations {
    refinery::embed_migrations!("migrations/postgres");
}

/// Appends to a tenant are announced on the channel `agentstate_` followed by the MD5 of
/// the tenant's id (hex: a valid identifier of fixed length, whatever the id holds), so a
/// host listens for the tenants its feeds follow, not for every append of every host.
const CHANNEL_PREFIX: &str = "agentstate_";
/// Taken while migrating, so hosts starting together migrate one after another.
const MIGRATION_LOCK: i64 = 0x6167_656e_7473_7461;

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        StoreError::Backend(match e.as_db_error() {
            Some(db) => format!("{}: {}", db.code().code(), db.message()),
            None => e.to_string(),
        })
    }
}

/// The statements of the hot path, prepared once per connection.
struct Prepared {
    lock_tenants: Statement,
    append: Statement,
    outcome: Statement,
    outcomes: Statement,
    events_after: Statement,
    history: Statement,
    last_seq: Statement,
}

struct Connection {
    client: Client,
    sql: Prepared,
    /// The token code's statements, prepared as first used.
    cache: HashMap<String, Statement>,
}

/// A PostgreSQL store. Reads take `&self` (as the [`EventLog`] has them), so the one
/// connection sits in a `RefCell`; the store belongs to one thread at a time.
pub struct PgStore {
    /// Where to connect, and the TLS the URL asks for (`sslmode`, `sslrootcert`).
    target: Target,
    connection: RefCell<Option<Connection>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("connected", &self.connection.borrow().is_some()).finish_non_exhaustive()
    }
}

fn target_of(url: &str) -> Result<Target, StoreError> {
    let mut target = Target::of(url)?;
    let config = &mut target.config;
    if config.get_connect_timeout().is_none() {
        // A host whose database is gone answers 503 quickly instead of hanging requests.
        config.connect_timeout(Duration::from_secs(2));
    }
    config.keepalives(true).keepalives_idle(Duration::from_secs(10));
    config.application_name("agentstate");
    Ok(target)
}

impl PgStore {
    /// Connects and migrates the schema to this version's (refinery's versioned
    /// migrations, under an advisory lock so hosts starting together take turns).
    pub fn connect(url: &str) -> Result<PgStore, StoreError> {
        let target = target_of(url)?;
        let mut client = target.connect()?;
        client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
        let migrated = migrations::migrations::runner()
            .run(&mut client)
            .map_err(|e| StoreError::Backend(format!("cannot migrate the schema: {e}")))
            .and_then(|_| index_backlog(&mut client));
        client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])?;
        migrated?;
        let store = PgStore { target, connection: RefCell::new(None) };
        *store.connection.borrow_mut() = Some(Connection::prepare(client)?);
        Ok(store)
    }

    /// Runs `work` on the connection, opening one first when there is none (PostgreSQL
    /// restarted, the network failed); a connection that failed is dropped.
    fn with<T>(&self, work: impl FnOnce(&mut Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut slot = self.connection.borrow_mut();
        if slot.as_ref().is_none_or(|c| c.client.is_closed()) {
            *slot = None;
            *slot = Some(Connection::prepare(self.target.connect()?)?);
        }
        let Some(connection) = slot.as_mut() else { return Err(StoreError::Backend("no connection".into())) };
        let result = work(connection);
        if result.is_err() && connection.client.is_closed() {
            *slot = None;
        }
        result
    }

    fn known(connection: &mut Connection, tenant: &str) -> Result<Seq, StoreError> {
        let row = connection.client.query_opt(&connection.sql.last_seq, &[&tenant])?;
        row.map(|r| r.get::<_, i64>(0) as Seq).ok_or_else(|| StoreError::UnknownTenant(tenant.to_owned()))
    }
}

impl Connection {
    fn prepare(mut client: Client) -> Result<Connection, StoreError> {
        // Every statement of this connection finds its rows by key. The tenants' rows are
        // few, so the planner read their table whole — and with it every version of them
        // that the appends (each updates `last_seq`) left since the last pruning: one host
        // went from 3,460 to 6,129 commands/s without it (see docs/decisions.md).
        client.batch_execute("SET enable_seqscan = off")?;
        let sql = Prepared {
            lock_tenants: client
                .prepare("SELECT id, last_seq FROM tenants WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE")?,
            // An append in one round trip, inside a transaction or on its own: the tenants'
            // rows locked (in id order, so two hosts never deadlock; again, and at no cost,
            // in a transaction that holds them), the append refused when a log no longer
            // ends where the deciding host read it or another host stored one of these
            // command ids first (a retry sent to it); else the events, their filing under
            // the people they touch, the logs' new ends, the notices and the command ids.
            // The ends are read through the lock, so they are the latest; an id committed
            // after this statement began and before the lock was taken is no `clash` but
            // a unique violation, and the statement stores nothing either. The notices are
            // a plain `SELECT`, run only because the answer counts them.
            append: client.prepare(
                "WITH locked AS MATERIALIZED ( \
                   SELECT id, last_seq FROM tenants WHERE id = ANY($7::text[]) ORDER BY id FOR UPDATE), \
                 moved AS ( \
                   SELECT ends.id, locked.id IS NULL AS unknown \
                   FROM UNNEST($7::text[], $16::bigint[]) AS ends(id, seq) LEFT JOIN locked ON locked.id = ends.id \
                   WHERE locked.last_seq IS DISTINCT FROM ends.seq ORDER BY ends.id LIMIT 1), \
                 clash AS ( \
                   SELECT ids.tenant FROM UNNEST($11::text[], $12::text[], $15::text[]) AS ids(tenant, id, actor) \
                   WHERE EXISTS (SELECT 1 FROM commands c \
                     WHERE c.tenant = ids.tenant AND c.id = ids.id AND c.actor = ids.actor) LIMIT 1), \
                 refused AS (SELECT EXISTS (SELECT 1 FROM moved) OR EXISTS (SELECT 1 FROM clash) AS yes), \
                 stored AS ( \
                   INSERT INTO events (tenant, seq, event) \
                   SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[]) WHERE NOT (SELECT yes FROM refused)), \
                 filed AS ( \
                   INSERT INTO user_events (tenant, user_id, seq) \
                   SELECT * FROM UNNEST($4::text[], $5::text[], $6::bigint[]) WHERE NOT (SELECT yes FROM refused) \
                   ON CONFLICT DO NOTHING), \
                 advanced AS ( \
                   UPDATE tenants SET last_seq = ends.seq \
                   FROM UNNEST($7::text[], $8::bigint[]) AS ends(id, seq) \
                   WHERE tenants.id = ends.id AND NOT (SELECT yes FROM refused)), \
                 told AS ( \
                   SELECT pg_notify($9 || md5(tenant), notice) FROM UNNEST($7::text[], $10::text[]) AS n(tenant, notice) \
                   WHERE NOT (SELECT yes FROM refused)), \
                 remembered AS ( \
                   INSERT INTO commands (tenant, id, outcome, log_end, actor) \
                   SELECT * FROM UNNEST($11::text[], $12::text[], $13::text[], $14::bigint[], $15::text[]) \
                   WHERE NOT (SELECT yes FROM refused)) \
                 SELECT (SELECT count(*) FROM told), (SELECT id FROM moved), (SELECT unknown FROM moved), \
                   (SELECT tenant FROM clash)",
            )?,
            outcome: client.prepare("SELECT outcome FROM commands WHERE tenant = $1 AND id = $2 AND actor = $3")?,
            outcomes: client
                .prepare("SELECT id, outcome, actor, log_end FROM commands WHERE tenant = $1 AND id = ANY($2::text[])")?,
            events_after: client
                .prepare("SELECT seq, event FROM events WHERE tenant = $1 AND seq > $2 ORDER BY seq LIMIT $3")?,
            history: client.prepare(
                "SELECT e.seq, e.event FROM user_events u JOIN events e ON e.tenant = u.tenant AND e.seq = u.seq \
                 WHERE u.tenant = $1 AND u.user_id = $2 AND u.seq < $3 ORDER BY u.seq DESC LIMIT $4",
            )?,
            last_seq: client.prepare("SELECT last_seq FROM tenants WHERE id = $1")?,
        };
        Ok(Connection { client, sql, cache: HashMap::new() })
    }
}

impl EventLog for PgStore {
    fn create_tenant(&mut self, tenant: &str, description: &str) -> Result<(), StoreError> {
        let inserted = self.with(|c| {
            Ok(c.client.execute(
                "INSERT INTO tenants (id, description) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&tenant, &description],
            )?)
        })?;
        if inserted == 0 {
            return Err(StoreError::TenantExists(tenant.to_owned()));
        }
        Ok(())
    }

    fn tenants(&self) -> Result<Vec<String>, StoreError> {
        self.with(|c| Ok(c.client.query("SELECT id FROM tenants ORDER BY id", &[])?.iter().map(|r| r.get(0)).collect()))
    }

    fn description(&self, tenant: &str) -> Result<String, StoreError> {
        self.with(|c| {
            c.client
                .query_opt("SELECT description FROM tenants WHERE id = $1", &[&tenant])?
                .map(|r| r.get(0))
                .ok_or_else(|| StoreError::UnknownTenant(tenant.to_owned()))
        })
    }

    fn append_all(&mut self, appends: &[Append<'_>]) -> Result<Vec<Seq>, StoreError> {
        // One statement, its own transaction.
        self.with(|c| append_in(&mut c.client, &c.sql, appends))
    }

    fn locked(
        &mut self,
        tenants: &[&str],
        work: &mut dyn FnMut(&mut dyn LockedLogs) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.with(|c| {
            let Connection { client, sql, .. } = c;
            let mut tx = client.transaction()?;
            // In id order, so two hosts locking overlapping tenants never deadlock.
            let ends = tx.query(&sql.lock_tenants, &[&tenants])?;
            let ends = ends.iter().map(|r| (r.get(0), r.get::<_, i64>(1) as Seq)).collect();
            work(&mut Locked { client: &mut tx, sql, ends, transaction: true })?;
            tx.commit().map_err(committed)?;
            Ok(())
        })
    }

    fn optimistic(
        &mut self,
        believed: &[(&str, Seq)],
        work: &mut dyn FnMut(&mut dyn LockedLogs) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.with(|c| {
            let Connection { client, sql, .. } = c;
            let ends = believed.iter().map(|(tenant, seq)| ((*tenant).to_owned(), *seq)).collect();
            work(&mut Locked { client, sql, ends, transaction: false })
        })
    }

    fn outcome(&self, tenant: &str, actor: &str, id: &str) -> Result<Option<String>, StoreError> {
        self.with(|c| {
            let found = c.client.query_opt(&c.sql.outcome, &[&tenant, &id, &actor])?.map(|r| r.get(0));
            if found.is_none() {
                PgStore::known(c, tenant)?;
            }
            Ok(found)
        })
    }

    fn outcomes(&self, tenant: &str, ids: &[&str]) -> Result<HashMap<String, Vec<StoredOutcome>>, StoreError> {
        self.with(|c| {
            let rows = c.client.query(&c.sql.outcomes, &[&tenant, &ids])?;
            if rows.is_empty() {
                // An unknown tenant is an error, as on every store (not an empty answer).
                PgStore::known(c, tenant)?;
            }
            let stored = |r: &postgres::Row| StoredOutcome {
                outcome: r.get(1),
                actor: Some(r.get::<_, String>(2)).filter(|a| !a.is_empty()),
                log_end: r.get::<_, Option<i64>>(3).map(|s| s as Seq),
            };
            let mut found: HashMap<String, Vec<StoredOutcome>> = HashMap::new();
            for r in &rows {
                found.entry(r.get(0)).or_default().push(stored(r));
            }
            Ok(found)
        })
    }

    fn events_after(&self, tenant: &str, after: Seq, limit: usize) -> Result<Vec<(Seq, String)>, StoreError> {
        self.with(|c| {
            let limit = limit.min(i64::MAX as usize) as i64;
            let rows = c.client.query(&c.sql.events_after, &[&tenant, &(after as i64), &limit])?;
            if rows.is_empty() {
                PgStore::known(c, tenant)?;
            }
            Ok(rows.iter().map(|r| (r.get::<_, i64>(0) as Seq, r.get(1))).collect())
        })
    }

    fn history(&self, tenant: &str, user: &str, before: Seq, limit: usize) -> Result<Vec<(Seq, String)>, StoreError> {
        self.with(|c| {
            let (before, limit) = (before.min(i64::MAX as u64) as i64, limit.min(i64::MAX as usize) as i64);
            let rows = c.client.query(&c.sql.history, &[&tenant, &user, &before, &limit])?;
            if rows.is_empty() {
                PgStore::known(c, tenant)?;
            }
            Ok(rows.iter().map(|r| (r.get::<_, i64>(0) as Seq, r.get(1))).collect())
        })
    }

    fn last_seq(&self, tenant: &str) -> Result<Seq, StoreError> {
        self.with(|c| PgStore::known(c, tenant))
    }

    fn put_snapshot(&mut self, tenant: &str, seq: Seq, snapshot: &str) -> Result<(), StoreError> {
        self.with(|c| {
            PgStore::known(c, tenant)?;
            c.client.execute(
                "INSERT INTO snapshots (tenant, seq, state) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&tenant, &(seq as i64), &snapshot],
            )?;
            Ok(())
        })
    }

    fn latest_snapshot(&self, tenant: &str) -> Result<Option<(Seq, String)>, StoreError> {
        self.with(|c| {
            PgStore::known(c, tenant)?;
            let row = c.client.query_opt(
                "SELECT seq, state FROM snapshots WHERE tenant = $1 ORDER BY seq DESC LIMIT 1",
                &[&tenant],
            )?;
            Ok(row.map(|r| (r.get::<_, i64>(0) as Seq, r.get(1))))
        })
    }

    fn snapshot_as_of(&self, tenant: &str, seq: Seq) -> Result<Option<(Seq, String)>, StoreError> {
        self.with(|c| {
            PgStore::known(c, tenant)?;
            let row = c.client.query_opt(
                "SELECT seq, state FROM snapshots WHERE tenant = $1 AND seq <= $2 ORDER BY seq DESC LIMIT 1",
                &[&tenant, &(seq as i64)],
            )?;
            Ok(row.map(|r| (r.get::<_, i64>(0) as Seq, r.get(1))))
        })
    }

    fn log_base(&self, tenant: &str) -> Result<Option<LogBase>, StoreError> {
        self.with(|c| {
            let row = c
                .client
                .query_opt("SELECT base_seq, base_at FROM tenants WHERE id = $1", &[&tenant])?
                .ok_or_else(|| StoreError::UnknownTenant(tenant.to_owned()))?;
            let (seq, at): (i64, Option<i64>) = (row.get(0), row.get(1));
            Ok(at.map(|at| LogBase { seq: seq as Seq, at: at.max(0) as u64 }))
        })
    }

    fn rebase(&mut self, tenant: &str, expected: Seq, base: LogBase, snapshot: &str) -> Result<Pruned, StoreError> {
        self.with(|c| {
            let mut tx = c.client.transaction()?;
            // The update takes the tenant's row lock: appends to this tenant wait for the
            // commit (a bounded chunk), other tenants' do not.
            let moved = tx.execute(
                "UPDATE tenants SET base_seq = $2, base_at = $3 WHERE id = $1 AND base_seq = $4 AND last_seq >= $2",
                &[&tenant, &(base.seq as i64), &millis(base.at), &(expected as i64)],
            )?;
            if moved == 0 {
                drop(tx);
                PgStore::known(c, tenant)?;
                return Err(StoreError::Conflict(tenant.to_owned()));
            }
            tx.execute(
                "INSERT INTO snapshots (tenant, seq, state) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&tenant, &(base.seq as i64), &snapshot],
            )?;
            let events = tx.execute(
                "DELETE FROM events WHERE tenant = $1 AND seq > $2 AND seq <= $3",
                &[&tenant, &(expected as i64), &(base.seq as i64)],
            )?;
            tx.execute(
                "DELETE FROM user_events WHERE tenant = $1 AND seq > $2 AND seq <= $3",
                &[&tenant, &(expected as i64), &(base.seq as i64)],
            )?;
            let snapshots =
                tx.execute("DELETE FROM snapshots WHERE tenant = $1 AND seq < $2", &[&tenant, &(base.seq as i64)])?;
            let outcomes =
                tx.execute("DELETE FROM commands WHERE tenant = $1 AND log_end < $2", &[&tenant, &(base.seq as i64)])?;
            tx.commit()?;
            Ok(Pruned { events, outcomes, snapshots })
        })
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.with(|c| Ok(c.client.simple_query("SELECT 1").map(|_| ())?))
    }

    /// `VACUUM (ANALYZE)` of the tables a load fills — the planner's statistics and the
    /// visibility map now, not by autovacuum in the middle of the next minutes' traffic —
    /// and a `CHECKPOINT`, so that writing the load's pages back does not either. (A role
    /// without the right to checkpoint leaves that to the database's own schedule.)
    fn settle(&mut self) -> Result<(), StoreError> {
        self.with(|c| {
            c.client.batch_execute("VACUUM (ANALYZE) events, user_events, commands, snapshots")?;
            match c.client.batch_execute("CHECKPOINT") {
                Err(e) if e.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) => Ok(()),
                done => Ok(done?),
            }
        })
    }
}

impl SqlBackend for PgStore {
    const DIALECT: Dialect = Dialect::Postgres;

    fn statements<T>(&self, work: impl FnOnce(&mut dyn Statements) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.with(|c| work(&mut Cached { client: &mut c.client, cache: &mut c.cache }))
    }

    fn transaction<T>(&self, work: impl FnOnce(&mut dyn Statements) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.with(|c| {
            let mut tx = c.client.transaction()?;
            let done = work(&mut Cached { client: &mut tx, cache: &mut c.cache })?;
            tx.commit()?;
            Ok(done)
        })
    }
}

/// Statements on PostgreSQL, each prepared once per connection (a statement not prepared
/// costs a second round trip every time).
struct Cached<'a, C> {
    client: &'a mut C,
    cache: &'a mut HashMap<String, Statement>,
}

impl<C: GenericClient> Cached<'_, C> {
    fn prepared(&mut self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(statement) = self.cache.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.cache.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

fn bound<'p>(params: &'p [Param<'_>]) -> Vec<&'p (dyn ToSql + Sync)> {
    params
        .iter()
        .map(|param| match param {
            Param::Text(text) => text as &(dyn ToSql + Sync),
            Param::Int(int) => int as &(dyn ToSql + Sync),
        })
        .collect()
}

impl<C: GenericClient> Statements for Cached<'_, C> {
    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64, StoreError> {
        let statement = self.prepared(sql)?;
        Ok(self.client.execute(&statement, &bound(params))?)
    }

    fn rows(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Vec<Value>>, StoreError> {
        let statement = self.prepared(sql)?;
        let rows = self.client.query(&statement, &bound(params))?;
        let value = |row: &postgres::Row, i: usize, column: &postgres::Column| -> Result<Value, StoreError> {
            Ok(match *column.type_() {
                Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map_or(Value::Null, Value::Int),
                Type::INT4 => row.try_get::<_, Option<i32>>(i)?.map_or(Value::Null, |int| Value::Int(int.into())),
                _ => row.try_get::<_, Option<String>>(i)?.map_or(Value::Null, Value::Text),
            })
        };
        rows.iter()
            .map(|row| row.columns().iter().enumerate().map(|(i, column)| value(row, i, column)).collect())
            .collect()
    }
}

/// The logs of some tenants: inside a transaction holding their rows, or (optimistic)
/// with each append a transaction of its own.
struct Locked<'a, C> {
    client: &'a mut C,
    sql: &'a Prepared,
    /// Where each tenant's log ends: as locking its row read it, or as the host believes;
    /// appends move it on.
    ends: HashMap<String, Seq>,
    transaction: bool,
}

impl<C: GenericClient> LockedLogs for Locked<'_, C> {
    fn events_after(&mut self, tenant: &str, after: Seq, limit: usize) -> Result<Vec<(Seq, String)>, StoreError> {
        let limit = limit.min(i64::MAX as usize) as i64;
        let rows = self.client.query(&self.sql.events_after, &[&tenant, &(after as i64), &limit])?;
        Ok(rows.iter().map(|r| (r.get::<_, i64>(0) as Seq, r.get(1))).collect())
    }

    fn append_all(&mut self, appends: &[Append<'_>]) -> Result<Vec<Seq>, StoreError> {
        // A refused append writes nothing (see `append_in`), so a transaction goes on
        // without a savepoint — except after a unique violation, which has ended it: that
        // is no conflict to decide again in it.
        let seqs = match append_in(self.client, self.sql, appends) {
            Err(StoreError::Conflict(tenant)) if tenant.is_empty() && self.transaction => {
                return Err(StoreError::Backend("an append stored a command id or an event twice".into()));
            }
            result => result?,
        };
        for (append, seq) in appends.iter().zip(&seqs) {
            self.ends.insert(append.tenant.to_owned(), *seq);
        }
        Ok(seqs)
    }

    fn log_end(&self, tenant: &str) -> Option<Seq> {
        self.ends.get(tenant).copied()
    }
}

/// Appends in one statement (see [`Prepared::append`]): refused whole, writing nothing,
/// when a tenant is unknown, its log no longer ends at the first `expected` given for it,
/// or a command id is stored already (`Conflict` without a tenant when another host stored
/// it while this statement ran).
fn append_in(client: &mut impl GenericClient, sql: &Prepared, appends: &[Append<'_>]) -> Result<Vec<Seq>, StoreError> {
    let mut last: BTreeMap<&str, Seq> = BTreeMap::new();
    for append in appends {
        last.entry(append.tenant).or_insert(append.expected);
    }
    let tenants: Vec<&str> = last.keys().copied().collect();
    let expected: Vec<i64> = last.values().map(|seq| *seq as i64).collect();
    let (mut event_tenants, mut event_seqs, mut events) = (Vec::new(), Vec::new(), Vec::new());
    let (mut filed_tenants, mut filed_users, mut filed_seqs) = (Vec::new(), Vec::new(), Vec::new());
    let (mut id_tenants, mut ids, mut outcomes, mut log_ends) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut actors = Vec::new();
    let mut seqs = Vec::with_capacity(appends.len());
    for append in appends {
        let seq = last.entry(append.tenant).or_default();
        // Where the log ended when the command was decided: its outcome is pruned with
        // the events before it.
        let log_end = *seq as i64;
        for event in append.events {
            *seq += 1;
            event_tenants.push(append.tenant);
            event_seqs.push(*seq as i64);
            events.push(event.as_str());
            for user in super::touched(event) {
                filed_tenants.push(append.tenant);
                filed_users.push(user);
                filed_seqs.push(*seq as i64);
            }
        }
        if let Some(id) = append.command_id {
            id_tenants.push(append.tenant);
            ids.push(id);
            outcomes.push(append.outcome);
            log_ends.push(log_end);
            actors.push(append.actor);
        }
        seqs.push(*seq);
    }
    let ends: Vec<i64> = last.values().map(|seq| *seq as i64).collect();
    let notices: Vec<String> = last.iter().map(|(tenant, seq)| format!("{seq}:{tenant}")).collect();
    let answer = client
        .query_one(
            &sql.append,
            &[
                &event_tenants,
                &event_seqs,
                &events,
                &filed_tenants,
                &filed_users,
                &filed_seqs,
                &tenants,
                &ends,
                &CHANNEL_PREFIX,
                &notices,
                &id_tenants,
                &ids,
                &outcomes,
                &log_ends,
                &actors,
                &expected,
            ],
        )
        .map_err(committed)?;
    if let Some(tenant) = answer.get::<_, Option<String>>(1) {
        return Err(if answer.get::<_, Option<bool>>(2) == Some(true) {
            StoreError::UnknownTenant(tenant)
        } else {
            StoreError::Conflict(tenant)
        });
    }
    // Another host stored one of these ids first (a retry sent to it): nothing was
    // written, and that tenant decides again.
    if let Some(tenant) = answer.get::<_, Option<String>>(3) {
        return Err(StoreError::Conflict(tenant));
    }
    Ok(seqs)
}

/// Files the events stored before the history index existed (up to each tenant's
/// `unindexed_to`) under the people they touch, a chunk per transaction; a step done twice
/// changes nothing, so an interrupted run goes on at the next start. Runs under the
/// migration lock: one host does it.
fn index_backlog(client: &mut Client) -> Result<(), StoreError> {
    let backlog: Vec<(String, i64, i64)> = client
        .query("SELECT id, base_seq, unindexed_to FROM tenants WHERE unindexed_to > base_seq", &[])?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let chunk = super::INDEX_CHUNK as i64;
    for (tenant, base, end) in backlog {
        let mut after = base;
        while after < end {
            let mut tx = client.transaction()?;
            let rows = tx.query(
                "SELECT seq, event FROM events WHERE tenant = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4",
                &[&tenant, &after, &end, &chunk],
            )?;
            let (mut users, mut seqs) = (Vec::new(), Vec::new());
            for row in &rows {
                let (seq, event): (i64, String) = (row.get(0), row.get(1));
                for user in super::touched(&event) {
                    users.push(user);
                    seqs.push(seq);
                }
            }
            tx.execute(
                "INSERT INTO user_events (tenant, user_id, seq) SELECT $1, * FROM UNNEST($2::text[], $3::bigint[]) \
                 ON CONFLICT DO NOTHING",
                &[&tenant, &users, &seqs],
            )?;
            after = match rows.last() {
                Some(row) if (rows.len() as i64) == chunk => row.get(0),
                _ => end,
            };
            if after >= end {
                tx.execute("UPDATE tenants SET unindexed_to = 0 WHERE id = $1", &[&tenant])?;
            }
            tx.commit()?;
        }
    }
    Ok(())
}

/// A commit (or a statement that is its own transaction) refused for a duplicate key lost
/// a race it could not see coming.
fn committed(e: postgres::Error) -> StoreError {
    match e.code() {
        Some(code) if *code == SqlState::UNIQUE_VIOLATION => StoreError::Conflict(String::new()),
        _ => e.into(),
    }
}

/// Listens, on a connection of its own, for the appends (of any host) to the tenants in
/// `followed` and hands each to `changed`, until `stop` is set. The tenants listened for
/// follow `followed` within a quarter second; once it listens for a tenant it says
/// [`Heard::Missed`] of it (what was appended before is read from the store), and after
/// the connection was lost, of all — so nothing is skipped.
pub(super) fn follow(
    url: String,
    followed: Followed,
    stop: Arc<AtomicBool>,
    mut changed: impl FnMut(Heard) + Send + 'static,
) -> Result<std::thread::JoinHandle<()>, StoreError> {
    let run = move || {
        let mut lost = false;
        while !stop.load(Ordering::Relaxed) {
            let mut client = match target_of(&url).and_then(|target| target.connect()) {
                Ok(client) => client,
                Err(e) => {
                    if !lost {
                        tracing::warn!(error = %e, "cannot listen for other hosts' appends; retrying");
                    }
                    lost = true;
                    std::thread::sleep(Duration::from_millis(250));
                    continue;
                }
            };
            if lost {
                tracing::info!("listening for other hosts' appends again");
                changed(Heard::Missed { tenant: None });
            }
            // The tenants listened for on this connection, by channel.
            let mut listening: BTreeMap<String, String> = BTreeMap::new();
            while !stop.load(Ordering::Relaxed) && !client.is_closed() {
                if listen_for(&mut client, &followed, &mut listening, &mut changed).is_err() {
                    break;
                }
                let mut notices = client.notifications();
                let mut waiting = notices.timeout_iter(Duration::from_millis(250));
                match waiting.next() {
                    Ok(Some(notice)) => {
                        if let Some((seq, tenant)) = notice.payload().split_once(':')
                            && let Ok(seq) = seq.parse()
                        {
                            changed(Heard::Appended { tenant: tenant.to_owned(), seq });
                        }
                    }
                    Ok(None) => {}
                    Err(_) => break,
                }
            }
            lost = true;
        }
    };
    std::thread::Builder::new()
        .name("agentstate-follow".into())
        .spawn(run)
        .map_err(|e| StoreError::setup("the thread that follows other hosts", e))
}

/// Brings the channels `client` listens on in line with the tenants `followed` names.
fn listen_for(
    client: &mut Client,
    followed: &Followed,
    listening: &mut BTreeMap<String, String>,
    changed: &mut impl FnMut(Heard),
) -> Result<(), postgres::Error> {
    let wanted = followed.tenants();
    let gone: Vec<String> =
        listening.iter().filter(|(_, tenant)| !wanted.contains(*tenant)).map(|(channel, _)| channel.clone()).collect();
    for channel in gone {
        client.batch_execute(&format!("UNLISTEN {channel}"))?;
        listening.remove(&channel);
    }
    for tenant in wanted {
        if listening.values().any(|t| *t == tenant) {
            continue;
        }
        // The channel's name as the append computes it (hex digits and the prefix only).
        let channel: String = client.query_one("SELECT $1 || md5($2)", &[&CHANNEL_PREFIX, &tenant])?.get(0);
        client.batch_execute(&format!("LISTEN {channel}"))?;
        listening.insert(channel, tenant.clone());
        changed(Heard::Missed { tenant: Some(tenant) });
    }
    Ok(())
}

/// The URL (or `key=value` string) without its password, for logs.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url
            .split_whitespace()
            .map(|pair| if pair.starts_with("password=") { "password=***" } else { pair })
            .collect::<Vec<_>>()
            .join(" ");
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info.split(':').next().unwrap_or_default();
            let hidden = if user_info.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}{path}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn passwords_never_reach_the_log() {
        assert_eq!(redacted("postgres://ann:secret@db:5432/agentstate"), "postgres://ann:***@db:5432/agentstate");
        assert_eq!(redacted("postgres://ann@db/agentstate"), "postgres://ann@db/agentstate");
        assert_eq!(redacted("host=db user=ann password=secret"), "host=db user=ann password=***");
    }
}
