//! Errors of the HTTP layer (not rule rejections, which are outcomes): one JSON shape,
//! `{"error": {"code": "...", "message": "..."}}`, with the fitting status.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::service::ServiceError;
use crate::service::writer::{Asked, OpenError};
use agentstate_runtime::HostError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), retry_after_secs: None }
    }

    pub fn unauthorized(message: &str) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// Also what a token of another tenant gets: it learns nothing about the tenant.
    pub fn unknown_tenant(tenant: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "unknown_tenant", format!("there is no tenant {tenant} for this token"))
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// `429 rate_limited`, to be retried after `wait` (`Retry-After`, whole seconds, at least 1).
    pub fn too_many(message: impl Into<String>, wait: std::time::Duration) -> ApiError {
        let mut error = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message);
        error.retry_after_secs = Some((wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1));
        error
    }

    pub fn shutting_down() -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting_down", "the server is shutting down")
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> ApiError {
        match &e {
            ServiceError::UnknownTenant(t) => ApiError::unknown_tenant(t),
            ServiceError::Store(_) | ServiceError::Unreadable { .. } => {
                tracing::error!(error = %e, "storage failed");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "storage_failed", e.to_string())
            }
            // The module said which part of the query it cannot read.
            ServiceError::Host(HostError::Refused { call: "query", message }) => {
                ApiError::bad_request("invalid_query", message.clone())
            }
            ServiceError::Host(HostError::OutOfTime { .. }) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "out_of_time", e.to_string())
            }
            ServiceError::Host(_) => {
                tracing::error!(error = %e, "the rule module failed");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "module_failed", e.to_string())
            }
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
            OpenError::Failed(e) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "storage_failed", e.to_string()),
        }
    }
}

impl From<crate::service::writer::Gone> for ApiError {
    fn from(_: crate::service::writer::Gone) -> ApiError {
        ApiError::shutting_down()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = super::answers::ErrorBody {
            error: super::answers::ErrorDetail { code: self.code, message: &self.message },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs
            && let Ok(value) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}
