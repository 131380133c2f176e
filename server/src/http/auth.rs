//! Who is calling: an API client sends `Authorization: Bearer <token>`; a dashboard sends
//! its session cookie (see `session.rs`). Either decides the tenant and the actor — clients
//! never choose their actor. Each token has its own request budget (rate limit), shared by
//! the sessions made from it.
//!
//! A cookie goes along with any request the browser makes, also one a foreign page
//! starts. `SameSite=Strict` keeps it off cross-site requests in current browsers; for
//! the others, a write with a cookie must also show that it comes from this origin
//! (`Origin`, or `Sec-Fetch-Site: same-origin`). Bearer requests need no such check: a
//! foreign page cannot make the browser add that header.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, RawPathParams};
use axum::http::header::{AUTHORIZATION, COOKIE, HOST, ORIGIN};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};

use super::App;
use super::errors::ApiError;
use crate::store::TokenGrant;
use crate::tokens;
use agentstate_core::{Actor, UserId};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "agentstate_session";

/// What a request shows to be let in, by the hash of its secret.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Credential {
    Bearer(String),
    Session(String),
}

/// The caller of an API request, as its token or session says; on a route under
/// `/tenants/{tenant}`, known to be of that tenant.
#[derive(Clone, Debug)]
pub struct Caller {
    pub tenant: String,
    /// A user of the tenant, or `system`: read once, here.
    pub actor: Actor,
    /// What a long request (the live feed) rechecks its access by.
    pub credential: Credential,
    /// The hash of the token the caller came with, or made their session from: what the
    /// budgets of a token (requests, feeds) are counted by.
    pub token: String,
    pub client: IpAddr,
}

/// The client's address, as the connection says.
pub fn client_of(parts: &Parts) -> IpAddr {
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED), |info| info.0.ip())
}

/// The session secret in the request's cookies, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    cookie_named(headers, SESSION_COOKIE)
}

/// The value of the request's cookie `name`, if it has one that is not empty.
pub fn cookie_named(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name && !c.value().is_empty())
        .map(|c| c.value().to_owned())
}

/// Refuses a request another site's page may have started: its `Origin` names another
/// host than the one it was sent to, or, without `Origin`, `Sec-Fetch-Site` does not say
/// `same-origin`. A request with neither (not from a browser) passes only if `lenient`.
pub fn same_origin(headers: &HeaderMap, lenient: bool) -> Result<(), ApiError> {
    let refused = |why: &str| ApiError::CrossSiteRequest(why.to_owned());
    let host = headers.get(HOST).and_then(|h| h.to_str().ok());
    if let Some(origin) = headers.get(ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        // A web origin: http or https, then this very host and port.
        let web = |scheme: &str| scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
        let authority = origin.split_once("://").filter(|(scheme, _)| web(scheme)).map(|(_, rest)| rest);
        return match (authority, host) {
            (Some(authority), Some(host)) if authority.eq_ignore_ascii_case(host) => Ok(()),
            _ => Err(refused(&format!("Origin {origin:?} is not this server ({})", host.unwrap_or("no Host")))),
        };
    }
    match headers.get("sec-fetch-site").and_then(|h| h.to_str().ok()) {
        Some("same-origin") => Ok(()),
        Some(site) => Err(refused(&format!("Sec-Fetch-Site is {site:?}"))),
        None if lenient => Ok(()),
        None => Err(refused("a write with a session cookie must carry Origin")),
    }
}

impl FromRequestParts<App> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Caller, ApiError> {
        let mut authorizations = parts.headers.get_all(AUTHORIZATION).iter();
        let credential = match (authorizations.next(), authorizations.next()) {
            // Which would speak? Taking either would let whatever added one choose.
            (Some(_), Some(_)) => {
                return Err(ApiError::TwoAuthorizations);
            }
            (Some(header), None) => {
                let token = header
                    .to_str()
                    .ok()
                    .and_then(|h| h.strip_prefix("Bearer "))
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .ok_or(ApiError::Unauthorized("the Authorization header must be `Bearer <token>`"))?;
                Credential::Bearer(tokens::hash(token))
            }
            (None, _) => {
                let secret = session_cookie(&parts.headers).ok_or(ApiError::Unauthorized(
                    "sign in (a session cookie) or send an Authorization: Bearer <token> header",
                ))?;
                if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
                    same_origin(&parts.headers, false)?;
                }
                Credential::Session(tokens::hash(&secret))
            }
        };
        let client = client_of(parts);
        let (grant, token_hash) = app.grant(&credential, client).await?.ok_or(match credential {
            Credential::Bearer(_) => ApiError::Unauthorized("the token is not known"),
            Credential::Session(_) => ApiError::Unauthorized("the session has ended; sign in again"),
        })?;
        if let Err(not_until) = app.shared.limiter.check_key(&token_hash) {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
            return Err(ApiError::RateLimited { what: "requests for this token", wait });
        }
        let TokenGrant { tenant, actor } = grant;
        // A route under `/tenants/{tenant}` serves the caller's own tenant only; any other is
        // as unknown to them as one that does not exist. Checked here, where every such
        // route gets its caller, so that no handler can forget it.
        if let Ok(params) = RawPathParams::from_request_parts(parts, app).await
            && let Some((_, named)) = params.iter().find(|(key, _)| *key == "tenant")
            && named != tenant
        {
            return Err(ApiError::UnknownTenant(named.to_owned()));
        }
        let actor = UserId::new(&actor).map(Actor::from).map_err(|e| ApiError::InvalidActor(e.to_string()))?;
        Ok(Caller { tenant, actor, credential, token: token_hash, client })
    }
}
