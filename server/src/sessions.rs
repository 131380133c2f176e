//! Browser sessions: a dashboard exchanges an access token — or a one-time sign-in link
//! made from one — for a session, a random secret the browser keeps in an `HttpOnly`
//! cookie, so the token itself never sits in page script or storage. The store keeps only
//! hashes; a session lives in the database (any host honours it) and hangs on its token:
//! revoking the token ends it.

use crate::clock::now_ms;
use crate::store::{SsoStore, TokenGrant, TokenStore};
use crate::tokens::{self, TokenError, hash};

/// Prefixes that make a leaked session or link recognisable.
const SESSION_PREFIX: &str = "ass_";
const LINK_PREFIX: &str = "asl_";

/// How long a session lasts: a long shift and its overtime. Signing in again starts anew.
pub const SESSION_TTL_MS: u64 = 12 * 3600 * 1000;
/// How long a sign-in link may wait for its one use.
pub const LINK_TTL_MS: u64 = 24 * 3600 * 1000;
/// Sessions one token keeps at most (see [`crate::store::MAX_SESSIONS_PER_TOKEN`]).
pub use crate::store::MAX_SESSIONS_PER_TOKEN as MAX_PER_TOKEN;

/// What a browser offers to sign in with (owned: it travels to the writer thread).
#[derive(Clone, Debug)]
pub enum Credential {
    /// An access token, as `agentstate token create` printed it.
    Token(String),
    /// The secret of a one-time sign-in link (the part after `#`).
    Link(String),
    /// A person the tenant's identity provider vouched for, found to be `user` of `tenant`
    /// (made by `http::sso` only after every check of the ID token held).
    SingleSignOn { tenant: String, user: String },
}

/// A new session: its secret (for the cookie, shown once) and whom it speaks for.
#[derive(Clone, Debug)]
pub struct Opened {
    pub secret: String,
    pub grant: TokenGrant,
    /// The hashes of the token's older sessions this one ended (a token keeps its newest
    /// only): a host that holds them as valid forgets them.
    pub ended: Vec<String>,
    /// Unix ms.
    pub expires: u64,
}

/// Opens a session for a valid credential; `None` for an unknown token or a link used or
/// expired already.
pub fn open(
    store: &mut (impl TokenStore + SsoStore + ?Sized),
    credential: &Credential,
) -> Result<Option<Opened>, TokenError> {
    let now = now_ms();
    let token_hash = match credential {
        Credential::Token(token) => hash(token),
        Credential::Link(link) => match store.take_link(&hash(link), now)? {
            Some(token_hash) => token_hash,
            None => return Ok(None),
        },
        Credential::SingleSignOn { tenant, user } => sso_token(store, tenant, user)?,
    };
    let Some(grant) = store.token(&token_hash)? else { return Ok(None) };
    let secret = tokens::secret(SESSION_PREFIX)?;
    let expires = now + SESSION_TTL_MS;
    let ended = store.put_session(&hash(&secret), &token_hash, expires)?;
    Ok(Some(Opened { secret, grant, ended, expires }))
}

/// The token a person's single sign-on sessions hang on, made at their first: one per
/// user, shown to nobody, listed and revoked like any other (`token revoke --user`).
fn sso_token(
    store: &mut (impl TokenStore + SsoStore + ?Sized),
    tenant: &str,
    user: &str,
) -> Result<String, TokenError> {
    if let Some(token_hash) = store.sso_token(tenant, user)? {
        return Ok(token_hash);
    }
    let token_hash = hash(&tokens::issue(store, tenant, user)?);
    store.put_sso_token(tenant, user, &token_hash)?;
    Ok(token_hash)
}

/// Creates a token for `actor` of `tenant` that only a one-time sign-in link reaches: the
/// link's secret (returned once) and the token's hash. The token itself is shown to nobody.
pub fn issue_link(
    store: &mut (impl TokenStore + ?Sized),
    tenant: &str,
    actor: &str,
) -> Result<(String, String), TokenError> {
    let token_hash = hash(&tokens::issue(store, tenant, actor)?);
    let link = tokens::secret(LINK_PREFIX)?;
    store.put_link(&hash(&link), &token_hash, now_ms() + LINK_TTL_MS)?;
    Ok((link, token_hash))
}
