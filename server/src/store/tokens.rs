//! Tokens, browser sessions and sign-in links, written once for both databases: the
//! [`TokenStore`] of every backend that can run a few SQL statements ([`SqlBackend`]).
//! Written twice, the two had drifted apart; where the databases differ — a row lock
//! SQLite has no need of, SQLite's `rowid` — the difference is named in [`Dialect`].
//!
//! Statements number their parameters `$1`, `$2`, … as PostgreSQL does; SQLite binds the
//! same numbers (`?1`, `?2`, …).

use super::{MAX_SESSIONS_PER_TOKEN, StoreError, TokenGrant, TokenSelector, TokenStore, millis};

/// Where the SQL of the two databases differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// Sessions of one token made on several hosts take turns on the token's row, so the
    /// cap per token holds; SQLite has one writer at a time anyway.
    fn lock_token(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some("SELECT 1 FROM tokens WHERE hash = $1 FOR UPDATE"),
        }
    }

    /// Among sessions that expire in the same millisecond, the newest first (SQLite counts
    /// its rows; PostgreSQL has no such order, and such ties are a sign-in burst anyway).
    fn newest_first(self) -> &'static str {
        match self {
            Dialect::Sqlite => ", rowid DESC",
            Dialect::Postgres => "",
        }
    }
}

/// A parameter of a statement.
#[derive(Clone, Copy, Debug)]
pub(super) enum Param<'a> {
    Text(&'a str),
    Int(i64),
}

/// A value read from a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Value {
    Text(String),
    Int(i64),
    Null,
}

impl Value {
    pub(super) fn text(self) -> Result<String, StoreError> {
        match self {
            Value::Text(text) => Ok(text),
            other => Err(StoreError::Backend(format!("expected text, read {other:?}"))),
        }
    }

    pub(super) fn int(self) -> Result<i64, StoreError> {
        match self {
            Value::Int(int) => Ok(int),
            other => Err(StoreError::Backend(format!("expected an integer, read {other:?}"))),
        }
    }
}

/// Statements run on a connection, or inside a transaction.
pub(super) trait Statements {
    /// Runs a statement; how many rows it changed.
    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64, StoreError>;
    /// Runs a statement; the rows it gave.
    fn rows(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Vec<Value>>, StoreError>;
}

/// A database the token code runs on.
pub(super) trait SqlBackend {
    const DIALECT: Dialect;
    /// Runs `work` on the connection, each statement on its own.
    fn statements<T>(&self, work: impl FnOnce(&mut dyn Statements) -> Result<T, StoreError>) -> Result<T, StoreError>;
    /// Runs `work` in one transaction, committed when it succeeds and rolled back else.
    fn transaction<T>(&self, work: impl FnOnce(&mut dyn Statements) -> Result<T, StoreError>) -> Result<T, StoreError>;
}

/// The one row `rows` gave, its columns in order; `None` for no row.
pub(super) fn one_row(rows: Vec<Vec<Value>>) -> Option<std::vec::IntoIter<Value>> {
    rows.into_iter().next().map(Vec::into_iter)
}

pub(super) fn next(columns: &mut std::vec::IntoIter<Value>) -> Value {
    columns.next().unwrap_or(Value::Null)
}

/// Refuses a tenant the store does not have.
pub(super) fn known(db: &mut dyn Statements, tenant: &str) -> Result<(), StoreError> {
    match db.rows("SELECT 1 FROM tenants WHERE id = $1", &[Param::Text(tenant)])?.is_empty() {
        true => Err(StoreError::UnknownTenant(tenant.to_owned())),
        false => Ok(()),
    }
}

fn grant(columns: &mut std::vec::IntoIter<Value>) -> Result<TokenGrant, StoreError> {
    Ok(TokenGrant { tenant: next(columns).text()?, actor: next(columns).text()? })
}

impl<B: SqlBackend + Send> TokenStore for B {
    fn put_token(&mut self, hash: &str, grant: &TokenGrant) -> Result<(), StoreError> {
        self.statements(|db| {
            known(db, &grant.tenant)?;
            db.execute(
                "INSERT INTO tokens (hash, tenant, actor) VALUES ($1, $2, $3)",
                &[Param::Text(hash), Param::Text(&grant.tenant), Param::Text(&grant.actor)],
            )?;
            Ok(())
        })
    }

    fn token(&self, hash: &str) -> Result<Option<TokenGrant>, StoreError> {
        self.statements(|db| {
            let rows = db.rows("SELECT tenant, actor FROM tokens WHERE hash = $1", &[Param::Text(hash)])?;
            one_row(rows).map(|mut columns| grant(&mut columns)).transpose()
        })
    }

    fn tokens_of(&self, tenant: &str) -> Result<Vec<(String, String)>, StoreError> {
        self.statements(|db| {
            known(db, tenant)?;
            let rows = db.rows(
                "SELECT hash, actor FROM tokens WHERE tenant = $1 ORDER BY actor, hash",
                &[Param::Text(tenant)],
            )?;
            rows.into_iter()
                .map(|row| {
                    let mut columns = row.into_iter();
                    Ok((next(&mut columns).text()?, next(&mut columns).text()?))
                })
                .collect()
        })
    }

    fn revoke_tokens(&mut self, tenant: &str, which: TokenSelector<'_>) -> Result<usize, StoreError> {
        let revoked = self.transaction(|db| {
            known(db, tenant)?;
            match which {
                TokenSelector::Actor(actor) => db.execute(
                    "DELETE FROM tokens WHERE tenant = $1 AND actor = $2",
                    &[Param::Text(tenant), Param::Text(actor)],
                ),
                TokenSelector::Fingerprint(prefix) => {
                    // substr, not LIKE: the prefix is data, never a pattern.
                    let fits = "tenant = $1 AND substr(hash, 1, length($2)) = lower($2)";
                    let params = [Param::Text(tenant), Param::Text(prefix)];
                    let count = one_row(db.rows(&format!("SELECT count(*) FROM tokens WHERE {fits}"), &params)?)
                        .map_or(Ok(0), |mut columns| next(&mut columns).int())?;
                    if count > 1 {
                        return Err(StoreError::Ambiguous(prefix.to_owned()));
                    }
                    db.execute(&format!("DELETE FROM tokens WHERE {fits}"), &params)
                }
            }
        })?;
        Ok(usize::try_from(revoked).unwrap_or(usize::MAX))
    }

    fn put_session(&mut self, session: &str, token: &str, expires: u64) -> Result<Vec<String>, StoreError> {
        self.transaction(|db| {
            // Expired sessions go when new ones come: the table holds about a day's sign-ins.
            db.execute("DELETE FROM sessions WHERE expires_ms <= $1", &[Param::Int(millis(crate::clock::now_ms()))])?;
            if let Some(lock) = B::DIALECT.lock_token() {
                db.rows(lock, &[Param::Text(token)])?;
            }
            db.execute(
                "INSERT INTO sessions (hash, token, expires_ms) VALUES ($1, $2, $3)",
                &[Param::Text(session), Param::Text(token), Param::Int(millis(expires))],
            )?;
            // A token keeps its newest sessions only (the new one first among equals).
            let keep = format!(
                "DELETE FROM sessions WHERE token = $1 AND hash NOT IN (SELECT hash FROM sessions WHERE token = $1 \
                 ORDER BY hash = $2 DESC, expires_ms DESC{} LIMIT $3) RETURNING hash",
                B::DIALECT.newest_first()
            );
            let params = [Param::Text(token), Param::Text(session), Param::Int(MAX_SESSIONS_PER_TOKEN as i64)];
            db.rows(&keep, &params)?.into_iter().map(|row| next(&mut row.into_iter()).text()).collect()
        })
    }

    fn session(&self, session: &str, now: u64) -> Result<Option<(TokenGrant, String)>, StoreError> {
        self.statements(|db| {
            let rows = db.rows(
                "SELECT t.tenant, t.actor, t.hash FROM sessions s JOIN tokens t ON t.hash = s.token \
                 WHERE s.hash = $1 AND s.expires_ms > $2",
                &[Param::Text(session), Param::Int(millis(now))],
            )?;
            one_row(rows).map(|mut columns| Ok((grant(&mut columns)?, next(&mut columns).text()?))).transpose()
        })
    }

    fn end_session(&mut self, session: &str) -> Result<bool, StoreError> {
        self.statements(|db| Ok(db.execute("DELETE FROM sessions WHERE hash = $1", &[Param::Text(session)])? > 0))
    }

    fn put_link(&mut self, link: &str, token: &str, expires: u64) -> Result<(), StoreError> {
        self.statements(|db| {
            db.execute(
                "DELETE FROM sign_in_links WHERE expires_ms <= $1",
                &[Param::Int(millis(crate::clock::now_ms()))],
            )?;
            db.execute(
                "INSERT INTO sign_in_links (hash, token, expires_ms) VALUES ($1, $2, $3)",
                &[Param::Text(link), Param::Text(token), Param::Int(millis(expires))],
            )?;
            Ok(())
        })
    }

    fn take_link(&mut self, link: &str, now: u64) -> Result<Option<String>, StoreError> {
        self.statements(|db| {
            let rows =
                db.rows("DELETE FROM sign_in_links WHERE hash = $1 RETURNING token, expires_ms", &[Param::Text(link)])?;
            let Some(mut columns) = one_row(rows) else { return Ok(None) };
            let token = next(&mut columns).text()?;
            Ok((next(&mut columns).int()? > millis(now)).then_some(token))
        })
    }
}
