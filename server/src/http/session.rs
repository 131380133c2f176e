//! `POST /api/session` exchanges a token or a one-time sign-in link for a session cookie;
//! `DELETE /api/session` ends the session on the server (sign-out). See `crate::sessions`.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use governor::DefaultKeyedRateLimiter;
use serde::Deserialize;

use super::App;
use super::answers::{ErrorBody, SessionOpened};
use super::auth::{Credential, SESSION_COOKIE, same_origin, session_cookie};
use super::errors::{ApiError, Failure};
use super::grants::Cached;
use crate::sessions;
use crate::sessions::Credential as SignInWith;
use crate::tokens;

/// Exactly one of a token (`ast_…`) or a one-time sign-in link's secret (`asl_…`).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    link: Option<String>,
}

/// The session cookie that carries `value` for `max_age_secs` (0 deletes it).
pub(super) fn cookie(headers: &HeaderMap, value: &str, max_age_secs: u64) -> Result<HeaderValue, ApiError> {
    set_cookie(headers, (SESSION_COOKIE, value), "/", cookie::SameSite::Strict, max_age_secs)
}

/// A `Set-Cookie` for `name=value` on `path`, `HttpOnly`, for `max_age_secs` (0 deletes
/// it); `Secure` when the request reached a TLS-terminating proxy over HTTPS.
pub(super) fn set_cookie(
    headers: &HeaderMap,
    (name, value): (&'static str, &str),
    path: &'static str,
    same_site: cookie::SameSite,
    max_age_secs: u64,
) -> Result<HeaderValue, ApiError> {
    let tls = headers.get("x-forwarded-proto").is_some_and(|p| p.as_bytes().eq_ignore_ascii_case(b"https"));
    let cookie = cookie::Cookie::build((name, value))
        .path(path)
        .http_only(true)
        .same_site(same_site)
        .secure(tls)
        .max_age(cookie::time::Duration::seconds(i64::try_from(max_age_secs).unwrap_or(i64::MAX)))
        .build();
    HeaderValue::from_str(&cookie.to_string()).map_err(|e| ApiError::internal(Failure::Server, &e))
}

/// Opens a session for a token or a sign-in link: sets the `agentstate_session` cookie
/// (HttpOnly, SameSite=Strict, 12 hours).
#[utoipa::path(post, path = "/session", tag = "session", security(()), request_body = SessionRequest,
    responses(
        (status = 200, description = "Signed in; the cookie is set", body = SessionOpened,
            headers(("set-cookie" = String, description = "agentstate_session=…; HttpOnly; SameSite=Strict"))),
        (status = 400, description = "Not exactly one of `token` and `link` (`invalid_request`)", body = ErrorBody),
        (status = 401, description = "Unknown token, or a used or expired link", body = ErrorBody),
        (status = 403, description = "Sent from another site (`cross_site_request`)", body = ErrorBody),
        (status = 429, description = "Too many sign-ins with this token or from this address, or too many unknown secrets from this address (`rate_limited`, with `Retry-After`)", body = ErrorBody),
        (status = 503, description = "The store failed", body = ErrorBody),
    ))]
pub async fn sign_in(
    State(app): State<App>,
    ConnectInfo(client): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    // Another site must not sign a browser in to an account of its choosing either.
    same_origin(&headers, true)?;
    let asked: SessionRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::InvalidRequest(format!("expected {{\"token\": …}} or {{\"link\": …}}: {e}")))?;
    let (is_token, secret) = match (asked.token, asked.link) {
        (Some(token), None) => Ok((true, token.trim().to_owned())),
        (None, Some(link)) => Ok((false, link.trim().to_owned())),
        _ => Err(ApiError::InvalidRequest("give exactly one of `token` and `link`".to_owned())),
    }?;
    // Each session is an fsynced write and a row: sign-ins are limited per address and per
    // token (a link is good for one sign-in, and makes a token of its own).
    let client = client.ip();
    limit(&app.shared.sign_ins_by_address, &address_key(client), "sign-ins from this address")?;
    let known = if is_token {
        let token_hash = tokens::hash(&secret);
        limit(&app.shared.sign_ins_by_token, &token_hash, "sign-ins with this token")?;
        app.shared.grants.get(&Credential::Bearer(token_hash), Instant::now()) != Cached::Unknown
    } else {
        false
    };
    let lookup = app.admit(client, known).await?;
    let opened =
        app.shared.writer.open_session(if is_token { SignInWith::Token(secret) } else { SignInWith::Link(secret) });
    let opened = opened.await?;
    lookup.answered(opened.is_some())?;
    let Some(opened) = opened else {
        return Err(ApiError::Unauthorized("the token is not known, or the sign-in link was used or has expired"));
    };
    for ended in &opened.ended {
        app.forget(&Credential::Session(ended.clone()));
    }
    let set = cookie(&headers, &opened.secret, sessions::SESSION_TTL_MS / 1000)?;
    let body = SessionOpened { tenant: opened.grant.tenant, actor: opened.grant.actor, expires: opened.expires };
    Ok(([(SET_COOKIE, set)], Json(body)).into_response())
}

/// `DELETE /api/session`: the session ends on the server (its cookie is refused from now
/// on, on any host) and the browser forgets the cookie.
#[utoipa::path(delete, path = "/session", tag = "session", security(("session" = [])),
    responses(
        (status = 204, description = "Signed out; the cookie is removed",
            headers(("set-cookie" = String, description = "agentstate_session=; Max-Age=0"))),
        (status = 403, description = "Sent from another site (`cross_site_request`)", body = ErrorBody),
        (status = 429, description = "Too many unknown secrets from this address (`rate_limited`, with `Retry-After`)", body = ErrorBody),
        (status = 503, description = "The store failed", body = ErrorBody),
    ))]
pub async fn sign_out(
    State(app): State<App>,
    ConnectInfo(client): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(secret) = session_cookie(&headers) {
        same_origin(&headers, false)?;
        // Ending a session is a write that needs no lookup first, and anyone may send a
        // cookie: one that ends nothing is an unknown secret like an unknown token, charged
        // to the address's budget (and past it answered 429).
        let key = tokens::hash(&secret);
        let credential = Credential::Session(key.clone());
        let known = app.shared.grants.get(&credential, Instant::now()) != Cached::Unknown;
        let lookup = app.admit(client.ip(), known).await?;
        let ended = app.shared.writer.end_session(key).await?;
        app.forget(&credential);
        lookup.answered(ended)?;
    }
    Ok((StatusCode::NO_CONTENT, [(SET_COOKIE, cookie(&headers, "", 0)?)]).into_response())
}

/// What a client address is counted as: an IPv4 address, or an IPv6 address's /64 (one
/// subscriber's: anyone with one holds all of its 2^64 addresses).
pub(super) fn address_key(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            std::net::IpAddr::V6(std::net::Ipv6Addr::from(bits))
        }
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
        v4 => v4,
    }
}

/// Refuses a sign-in over `limiter`'s budget for `key` (`what` names it in the message).
pub(super) fn limit<K: Clone + Eq + std::hash::Hash>(
    limiter: &DefaultKeyedRateLimiter<K>,
    key: &K,
    what: &'static str,
) -> Result<(), ApiError> {
    limiter.check_key(key).map_err(|not_until| {
        let wait = not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
        ApiError::RateLimited { what, wait }
    })
}
