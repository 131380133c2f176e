//! The query string and the path parameters of every API route, read like axum's `Query`
//! and `Path` but refused in the API's JSON error shape (`400 invalid_query`, `400
//! invalid_path`) rather than as axum's plain text. Handlers take `Query<T>` and `Path<T>`
//! from here; the parameters' documentation (`IntoParams`) is unchanged.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::errors::ApiError;

/// The query string parsed as `T`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Query<T>, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            // axum's text says which parameter and why ("Failed to deserialize query string:
            // from: invalid digit found in string").
            Err(rejection) => Err(ApiError::InvalidQuery(rejection.body_text())),
        }
    }
}

/// The path parameters parsed as `T`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Path<T>, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            // e.g. "Invalid URL: Invalid UTF-8 in `user`".
            Err(rejection) => Err(ApiError::InvalidPath(rejection.body_text())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Range {
        from: u64,
    }

    async fn read(uri: &str) -> Result<u64, ApiError> {
        let (mut parts, ()) = axum::http::Request::builder().uri(uri).body(()).expect("a request").into_parts();
        Query::<Range>::from_request_parts(&mut parts, &()).await.map(|Query(range)| range.from)
    }

    #[tokio::test]
    async fn a_bad_query_string_is_invalid_query() {
        assert_eq!(read("/r?from=7").await.ok(), Some(7));
        for uri in ["/r?from=abc", "/r", "/r?from=-1"] {
            let refused = read(uri).await.expect_err(uri);
            assert_eq!(
                (refused.status(), refused.code()),
                (axum::http::StatusCode::BAD_REQUEST, "invalid_query"),
                "{uri}"
            );
            assert!(refused.to_string().contains("from"), "{uri}: {refused}");
        }
    }
}
