//! Single sign-on's rows, written once for both databases like the tokens beside them: each
//! tenant's identity provider, the sign-ins under way, and the token each person's single
//! sign-on sessions hang on.

use super::tokens::{Param, SqlBackend, Value, known, next, one_row};
use super::{SsoProvider, SsoSignIn, SsoStore, StoreError, millis};

/// Sign-ins under way at most, per tenant: beyond it a new one waits until some expire
/// (each lives ten minutes), whatever addresses a flood comes from — and a flood at one
/// tenant's sign-in page leaves the others' alone.
pub const MAX_SIGN_INS_UNDER_WAY: i64 = 5_000;

fn text(columns: &mut std::vec::IntoIter<Value>) -> Result<String, StoreError> {
    next(columns).text()
}

impl<B: SqlBackend + Send> SsoStore for B {
    fn put_sso_provider(&mut self, tenant: &str, provider: &SsoProvider) -> Result<(), StoreError> {
        self.transaction(|db| {
            known(db, tenant)?;
            db.execute("DELETE FROM sso_providers WHERE tenant = $1", &[Param::Text(tenant)])?;
            let SsoProvider { issuer, client_id, client_secret, redirect_uri, claim, name } = provider;
            db.execute(
                "INSERT INTO sso_providers (tenant, issuer, client_id, client_secret, redirect_uri, claim, name) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    Param::Text(tenant),
                    Param::Text(issuer),
                    Param::Text(client_id),
                    Param::Text(client_secret),
                    Param::Text(redirect_uri),
                    Param::Text(claim),
                    Param::Text(name),
                ],
            )?;
            Ok(())
        })
    }

    fn sso_provider(&self, tenant: &str) -> Result<Option<SsoProvider>, StoreError> {
        self.statements(|db| {
            let rows = db.rows(
                "SELECT issuer, client_id, client_secret, redirect_uri, claim, name FROM sso_providers \
                 WHERE tenant = $1",
                &[Param::Text(tenant)],
            )?;
            one_row(rows)
                .map(|mut c| {
                    Ok(SsoProvider {
                        issuer: text(&mut c)?,
                        client_id: text(&mut c)?,
                        client_secret: text(&mut c)?,
                        redirect_uri: text(&mut c)?,
                        claim: text(&mut c)?,
                        name: text(&mut c)?,
                    })
                })
                .transpose()
        })
    }

    fn remove_sso_provider(&mut self, tenant: &str) -> Result<bool, StoreError> {
        self.statements(|db| {
            known(db, tenant)?;
            Ok(db.execute("DELETE FROM sso_providers WHERE tenant = $1", &[Param::Text(tenant)])? > 0)
        })
    }

    fn put_sso_sign_in(&mut self, state: &str, sign_in: &SsoSignIn, now: u64) -> Result<bool, StoreError> {
        self.transaction(|db| {
            // Expired sign-ins go when new ones come: the table holds ten minutes' worth.
            db.execute("DELETE FROM sso_sign_ins WHERE expires_ms <= $1", &[Param::Int(millis(now))])?;
            let under_way = one_row(
                db.rows("SELECT count(*) FROM sso_sign_ins WHERE tenant = $1", &[Param::Text(&sign_in.tenant)])?,
            )
            .map_or(Ok(0), |mut columns| next(&mut columns).int())?;
            if under_way >= MAX_SIGN_INS_UNDER_WAY {
                return Ok(false);
            }
            let SsoSignIn { tenant, browser, nonce, verifier, expires } = sign_in;
            db.execute(
                "INSERT INTO sso_sign_ins (state, tenant, browser, nonce, verifier, expires_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    Param::Text(state),
                    Param::Text(tenant),
                    Param::Text(browser),
                    Param::Text(nonce),
                    Param::Text(verifier),
                    Param::Int(millis(*expires)),
                ],
            )?;
            Ok(true)
        })
    }

    fn take_sso_sign_in(&mut self, state: &str, now: u64) -> Result<Option<SsoSignIn>, StoreError> {
        self.statements(|db| {
            // Taken whatever follows: a state is good for one callback, also a refused one.
            let rows = db.rows(
                "DELETE FROM sso_sign_ins WHERE state = $1 \
                 RETURNING tenant, browser, nonce, verifier, expires_ms",
                &[Param::Text(state)],
            )?;
            let Some(mut c) = one_row(rows) else { return Ok(None) };
            let sign_in = SsoSignIn {
                tenant: text(&mut c)?,
                browser: text(&mut c)?,
                nonce: text(&mut c)?,
                verifier: text(&mut c)?,
                expires: u64::try_from(next(&mut c).int()?).unwrap_or(0),
            };
            Ok((sign_in.expires > now).then_some(sign_in))
        })
    }

    fn sso_token(&self, tenant: &str, actor: &str) -> Result<Option<String>, StoreError> {
        self.statements(|db| {
            // The join: a revoked token is no token (its row is gone, this one with it).
            let rows = db.rows(
                "SELECT s.token FROM sso_tokens s JOIN tokens t ON t.hash = s.token \
                 WHERE s.tenant = $1 AND s.actor = $2",
                &[Param::Text(tenant), Param::Text(actor)],
            )?;
            one_row(rows).map(|mut c| text(&mut c)).transpose()
        })
    }

    fn put_sso_token(&mut self, tenant: &str, actor: &str, token: &str) -> Result<(), StoreError> {
        self.transaction(|db| {
            db.execute(
                "DELETE FROM sso_tokens WHERE tenant = $1 AND actor = $2",
                &[Param::Text(tenant), Param::Text(actor)],
            )?;
            db.execute(
                "INSERT INTO sso_tokens (tenant, actor, token) VALUES ($1, $2, $3)",
                &[Param::Text(tenant), Param::Text(actor), Param::Text(token)],
            )?;
            Ok(())
        })
    }
}
