//! Who is calling: every API request carries `Authorization: Bearer <token>`; the token
//! decides the tenant and the actor. Clients never choose their actor. Each token has its
//! own request budget (rate limit).

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::App;
use super::errors::ApiError;
use crate::store::TokenGrant;
use crate::tokens;

/// The caller of an API request, as its token says.
#[derive(Clone, Debug)]
pub struct Caller {
    pub tenant: String,
    /// A user id of the tenant, or `system`.
    pub actor: String,
    /// What a long request (the live feed) rechecks its token by.
    pub token_hash: String,
    pub client: IpAddr,
}

impl Caller {
    /// The caller's tenant must be the one in the path; any other is as unknown to them as
    /// a tenant that does not exist.
    pub fn of(&self, tenant: &str) -> Result<(), ApiError> {
        if self.tenant == tenant { Ok(()) } else { Err(ApiError::unknown_tenant(tenant)) }
    }
}

impl FromRequestParts<App> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Caller, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("an Authorization: Bearer <token> header is required"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::unauthorized("the Authorization header must be `Bearer <token>`"))?;
        let client = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED), |info| info.0.ip());
        let hash = tokens::hash(token);
        let grant = app.grant(&hash, client).await?.ok_or_else(|| ApiError::unauthorized("the token is not known"))?;
        if let Err(not_until) = app.shared.limiter.check_key(&hash) {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
            let mut error = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many requests for this token; retry in {} ms", wait.as_millis().max(1)),
            );
            error.retry_after_secs = Some(wait.as_secs().max(1));
            return Err(error);
        }
        let TokenGrant { tenant, actor } = grant;
        Ok(Caller { tenant, actor, token_hash: hash, client })
    }
}
