//! What one request may hold of a host, beyond its connection's bounds (`listen.rs`): a
//! body refused by its declared size before it is read, a body that must arrive in time,
//! and path segments no longer than any name here.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::errors::ApiError;

/// How long a request's body may take to arrive once its head has come. The head has 5 s
/// (`listen::HEADER_TIMEOUT`); without a deadline for the body, a client that declared a
/// body and sent it a byte at a time — or never — held its connection for as long as it
/// liked, and 400 such clients, with no token at all (`POST /api/session`), held every
/// connection a host allowed (found by a hostile review). Bodies here are small (at most
/// `--max-body`, 1 MiB): ten seconds is ample on any link a dashboard runs on.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads a request's body — whole, within [`BODY_TIMEOUT`] and `--max-body` — before the
/// route sees it: `408 request_timeout` (and the connection closed) when it does not come
/// in time, `413 payload_too_large` when a body without a declared length grows past the
/// limit. Requests without a body (every read, the live feed) pass untouched.
pub(super) async fn body_in_time(State(max_body): State<usize>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let chunked = headers.contains_key(header::TRANSFER_ENCODING);
    if declared.unwrap_or(0) == 0 && !chunked {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, max_body)).await {
        Ok(Ok(bytes)) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
        Ok(Err(_)) => closing(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body did not end within {max_body} bytes, or broke off"),
        )),
        Err(_) => closing(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!("the body did not arrive within {} s", BODY_TIMEOUT.as_secs()),
        )),
    }
}

/// An error answer after which the connection is closed: what is left of the request is
/// not read.
fn closing(error: ApiError) -> Response {
    let mut response = error.into_response();
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A request whose `Content-Length` is over `--max-body` is refused before its body is
/// read: `413 payload_too_large` at once — no `100 Continue` for a client that asked —
/// and the connection closed rather than the body read to its end.
pub(super) async fn refuse_large_bodies(State(max_body): State<usize>, request: Request, next: Next) -> Response {
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    match declared {
        Some(length) if length > max_body as u64 => {
            let mut refused = ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("a body of {length} bytes; at most {max_body}"),
            )
            .into_response();
            refused.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            refused
        }
        _ => next.run(request).await,
    }
}

/// Longest path segment that can name anything here: a file name (`NAME_MAX`; the static
/// files) — ids are shorter still (128 bytes).
const MAX_SEGMENT: usize = 255;

/// A path with a segment longer than [`MAX_SEGMENT`] bytes (decoded) names nothing here:
/// `404 not_found`, before any route or file lookup sees it (opening such a file fails
/// with "name too long", which the static files would answer `500`).
pub(super) async fn refuse_overlong_names(request: Request, next: Next) -> Response {
    if request.uri().path().split('/').any(|segment| decoded_len(segment) > MAX_SEGMENT) {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("nothing here is named by a path segment of more than {MAX_SEGMENT} bytes"),
        )
        .into_response();
    }
    next.run(request).await
}

/// The length in bytes of a path segment once percent-decoded (each `%XX` is one byte).
fn decoded_len(segment: &str) -> usize {
    let escapes = segment.as_bytes().windows(3).filter(|w| w[0] == b'%' && w[1..].iter().all(u8::is_ascii_hexdigit));
    segment.len() - 2 * escapes.count()
}

#[cfg(test)]
mod tests {
    use super::decoded_len;

    #[test]
    fn a_segment_is_measured_decoded() {
        assert_eq!(decoded_len(""), 0);
        assert_eq!(decoded_len("abc"), 3);
        assert_eq!(decoded_len("%C3%A9"), 2);
        assert_eq!(decoded_len("a%2"), 3);
        assert_eq!(decoded_len("%zz%41"), 4);
        assert_eq!(decoded_len(&"%41".repeat(100)), 100);
    }
}
