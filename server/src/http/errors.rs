//! Errors of the HTTP layer (not rule rejections, which are outcomes): one enum, each
//! variant owning its status and its stable snake_case code, sent in one JSON shape,
//! `{"error": {"code": "...", "message": "..."}}`.
//!
//! A failure inside the server (the store, the rule module, a report) is logged with an
//! id and answered with that id alone: what failed inside is the operator's to read, not
//! the client's.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::service::ServiceError;
use crate::service::writer::{Asked, OpenError};
use agentstate_runtime::HostError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// `400 invalid_query`: a query string, `Last-Event-ID` or page bound the route cannot use.
    #[error("{0}")]
    InvalidQuery(String),
    /// `400 invalid_path`: a path parameter the route cannot use.
    #[error("{0}")]
    InvalidPath(String),
    /// `400 invalid_request`: a sign-in body of the wrong shape.
    #[error("{0}")]
    InvalidRequest(String),
    /// `400 invalid_actor`: the caller's user id is not an id the rules take.
    #[error("{0}")]
    InvalidActor(String),
    /// `400 invalid_range`: a report's time range.
    #[error("{0}")]
    InvalidRange(String),
    /// `400 invalid_format`: a report format other than json or csv.
    #[error("format {0:?}: json or csv")]
    InvalidFormat(String),
    /// `400 unreadable_body`: a body that broke off or is not what the route reads.
    #[error("{0}")]
    UnreadableBody(String),
    /// `400 invalid_credentials`: more than one `Authorization` header.
    #[error("more than one Authorization header; send exactly one: `Bearer <token>`")]
    TwoAuthorizations,
    /// `400 at_not_allowed`: a command that sets its own time.
    #[error("`at` is set by the server's clock; leave it out of the command")]
    AtNotAllowed,
    /// `401 unauthorized`: no credential, or one that is not known (any more).
    #[error("{0}")]
    Unauthorized(&'static str),
    /// `403 cross_site_request`: a write another site's page may have started.
    #[error("refused a cross-site request: {0}")]
    CrossSiteRequest(String),
    /// `403 actor_mismatch`: a command naming another actor than its token's.
    #[error("this token acts as {actor}; a command cannot name actor {named}")]
    ActorMismatch { actor: String, named: serde_json::Value },
    /// `403 admins_only`: a route for the tenant's admins.
    #[error("only an admin of the tenant may read this")]
    AdminsOnly,
    /// `403 not_loopback`: the demo's tokens asked for from elsewhere than this machine.
    #[error("the demo's tokens are given only to this machine, asked for as localhost, 127.0.0.1 or [::1]")]
    NotLoopback,
    /// `404 unknown_tenant`, also what a token of another tenant gets: it learns nothing
    /// about the tenant.
    #[error("there is no tenant {0} for this token")]
    UnknownTenant(String),
    /// `404 unknown_channel`.
    #[error("there is no channel {0}")]
    UnknownChannel(String),
    /// `404 unknown_user`.
    #[error("there is no user {0}")]
    UnknownUser(String),
    /// `404 no_such_route`: an `/api/…` path no route takes.
    #[error("there is no such API route")]
    NoSuchRoute,
    /// `404 no_demo`.
    #[error("this server runs no demo tenant")]
    NoDemo,
    /// `404 not_found`: a path, or a segment of it, longer than any name here.
    #[error("nothing here is named by a {what} of more than {max} bytes")]
    OverlongName { what: &'static str, max: usize },
    /// `405 method_not_allowed`.
    #[error("this route does not take this method")]
    MethodNotAllowed,
    /// `408 request_timeout`: a body that did not arrive in time.
    #[error("the body did not arrive within {} s", .0.as_secs())]
    BodyTooSlow(Duration),
    /// `413 payload_too_large`: a body over `--max-body`, declared or as it came.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// `413 batch_too_large`.
    #[error("{count} commands in one batch; at most {max}")]
    BatchTooLarge { count: usize, max: usize },
    /// `429 rate_limited`: too many of `what`, to be retried after the wait (`Retry-After`).
    #[error("too many {what}; retry in {} ms", .wait.as_millis().max(1))]
    RateLimited { what: &'static str, wait: Duration },
    /// `429 too_many_feeds`: the token holds its share of live feeds.
    #[error("this token holds {0} live feeds, the most it may; close one first")]
    TokensFeedsFull(usize),
    /// `503 too_many_feeds`: the host holds all the live feeds it may.
    #[error("this server holds {0} live feeds, the most it may; retry later")]
    HostsFeedsFull(usize),
    /// `503 too_many_connections`.
    #[error("this host holds all the connections it may; retry shortly")]
    TooManyConnections,
    /// `503 shutting_down`.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// `503 out_of_time`: the rule module's time for one call ran out.
    #[error("the rule module ran out of time for this request")]
    OutOfTime,
    /// `500`/`503` with the failure's code: something inside the server failed; the log
    /// says what under `error_id`.
    #[error("{failure} (error {id} in the server's log)")]
    Internal { failure: Failure, id: u64 },
}

/// What failed inside the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// `503 storage_failed`.
    #[error("the store failed")]
    Storage,
    /// `503 module_failed`.
    #[error("the rule module failed")]
    Module,
    /// `500 report_failed`.
    #[error("the report could not be written")]
    Report,
    /// `500 internal`.
    #[error("the server failed")]
    Server,
}

/// How long a client refused for a full host should wait.
const FULL_RETRY_AFTER_SECS: u64 = 1;
/// How long a client refused for too many feeds should wait.
const FEEDS_RETRY_AFTER_SECS: u64 = 5;

impl ApiError {
    /// Logs `error` under a new id and answers with the id alone.
    pub fn internal(failure: Failure, error: &dyn std::fmt::Display) -> ApiError {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        tracing::error!(error_id = id, error = %error, "{failure}");
        ApiError::Internal { failure, id }
    }

    pub fn status(&self) -> StatusCode {
        use ApiError::*;
        match self {
            InvalidQuery(_) | InvalidPath(_) | InvalidRequest(_) | InvalidActor(_) | InvalidRange(_)
            | InvalidFormat(_) | UnreadableBody(_) | TwoAuthorizations | AtNotAllowed => StatusCode::BAD_REQUEST,
            Unauthorized(_) => StatusCode::UNAUTHORIZED,
            CrossSiteRequest(_) | ActorMismatch { .. } | NotLoopback | AdminsOnly => StatusCode::FORBIDDEN,
            UnknownTenant(_) | UnknownChannel(_) | UnknownUser(_) | NoSuchRoute | NoDemo | OverlongName { .. } => {
                StatusCode::NOT_FOUND
            }
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            BodyTooSlow(_) => StatusCode::REQUEST_TIMEOUT,
            PayloadTooLarge(_) | BatchTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            RateLimited { .. } | TokensFeedsFull(_) => StatusCode::TOO_MANY_REQUESTS,
            HostsFeedsFull(_) | TooManyConnections | ShuttingDown | OutOfTime => StatusCode::SERVICE_UNAVAILABLE,
            Internal { failure: Failure::Storage | Failure::Module, .. } => StatusCode::SERVICE_UNAVAILABLE,
            Internal { failure: Failure::Report | Failure::Server, .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code clients match on.
    pub fn code(&self) -> &'static str {
        use ApiError::*;
        match self {
            InvalidQuery(_) => "invalid_query",
            InvalidPath(_) => "invalid_path",
            InvalidRequest(_) => "invalid_request",
            InvalidActor(_) => "invalid_actor",
            InvalidRange(_) => "invalid_range",
            InvalidFormat(_) => "invalid_format",
            UnreadableBody(_) => "unreadable_body",
            TwoAuthorizations => "invalid_credentials",
            AtNotAllowed => "at_not_allowed",
            Unauthorized(_) => "unauthorized",
            CrossSiteRequest(_) => "cross_site_request",
            ActorMismatch { .. } => "actor_mismatch",
            NotLoopback => "not_loopback",
            AdminsOnly => "admins_only",
            UnknownTenant(_) => "unknown_tenant",
            UnknownChannel(_) => "unknown_channel",
            UnknownUser(_) => "unknown_user",
            NoSuchRoute => "no_such_route",
            NoDemo => "no_demo",
            OverlongName { .. } => "not_found",
            MethodNotAllowed => "method_not_allowed",
            BodyTooSlow(_) => "request_timeout",
            PayloadTooLarge(_) => "payload_too_large",
            BatchTooLarge { .. } => "batch_too_large",
            RateLimited { .. } => "rate_limited",
            TokensFeedsFull(_) | HostsFeedsFull(_) => "too_many_feeds",
            TooManyConnections => "too_many_connections",
            ShuttingDown => "shutting_down",
            OutOfTime => "out_of_time",
            Internal { failure: Failure::Storage, .. } => "storage_failed",
            Internal { failure: Failure::Module, .. } => "module_failed",
            Internal { failure: Failure::Report, .. } => "report_failed",
            Internal { failure: Failure::Server, .. } => "internal",
        }
    }

    /// Whole seconds for `Retry-After`, where waiting helps.
    fn retry_after_secs(&self) -> Option<u64> {
        match self {
            // At least a second: `Retry-After` counts whole seconds.
            ApiError::RateLimited { wait, .. } => Some((wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)),
            ApiError::TokensFeedsFull(_) | ApiError::HostsFeedsFull(_) => Some(FEEDS_RETRY_AFTER_SECS),
            ApiError::TooManyConnections => Some(FULL_RETRY_AFTER_SECS),
            _ => None,
        }
    }

    /// Whether the connection closes after this answer: what is left of the request is
    /// not read.
    fn closes(&self) -> bool {
        matches!(self, ApiError::BodyTooSlow(_) | ApiError::PayloadTooLarge(_))
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> ApiError {
        match e {
            ServiceError::UnknownTenant(t) => ApiError::UnknownTenant(t),
            ServiceError::Store(_) | ServiceError::Unreadable { .. } => ApiError::internal(Failure::Storage, &e),
            // The module said which part of the query it cannot read.
            ServiceError::Host(HostError::Refused { call: "query", message }) => ApiError::InvalidQuery(message),
            ServiceError::Host(HostError::OutOfTime { .. }) => ApiError::OutOfTime,
            ServiceError::Host(_) => ApiError::internal(Failure::Module, &e),
        }
    }
}

impl From<Asked> for ApiError {
    fn from(e: Asked) -> ApiError {
        match e {
            Asked::Gone(gone) => gone.into(),
            Asked::Refused(e) => e.into(),
        }
    }
}

impl From<OpenError> for ApiError {
    fn from(e: OpenError) -> ApiError {
        match e {
            OpenError::Gone(gone) => gone.into(),
            OpenError::Failed(e) => ApiError::internal(Failure::Storage, &e),
        }
    }
}

impl From<crate::service::writer::Gone> for ApiError {
    fn from(_: crate::service::writer::Gone) -> ApiError {
        ApiError::ShuttingDown
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = self.to_string();
        let body =
            super::answers::ErrorBody { error: super::answers::ErrorDetail { code: self.code(), message: &message } };
        let mut response = (self.status(), axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs() {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.closes() {
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An internal failure answers with its code and an id, never the failure's own text.
    #[test]
    fn an_internal_failure_tells_the_client_its_id_not_what_failed() {
        let error = ApiError::internal(Failure::Storage, &"disk I/O error at /var/lib/agentstate/agentstate.db");
        let ApiError::Internal { id, .. } = error else { panic!("{error:?}") };
        assert_eq!(error.code(), "storage_failed");
        assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(error.to_string(), format!("the store failed (error {id} in the server's log)"));
        let next = ApiError::internal(Failure::Server, &"x");
        assert!(matches!(next, ApiError::Internal { id: later, .. } if later > id), "ids are not reused");
    }

    #[test]
    fn a_wait_is_at_least_a_whole_second() {
        let limited = |ms| ApiError::RateLimited { what: "requests", wait: Duration::from_millis(ms) };
        assert_eq!(limited(1).retry_after_secs(), Some(1));
        assert_eq!(limited(1_000).retry_after_secs(), Some(1));
        assert_eq!(limited(1_001).retry_after_secs(), Some(2));
    }
}
