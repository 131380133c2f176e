//! What one request may hold of a host, beyond its connection's bounds (`listen.rs`): a
//! body refused by its declared size before it is read, a body that must arrive in time,
//! and path segments no longer than any name here.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, header};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;

use super::errors::ApiError;

/// How long a request's body may take to arrive once its head has come. The head has 5 s
/// (`listen::HEADER_TIMEOUT`); without a deadline for the body, a client that declared a
/// body and sent it a byte at a time — or never — held its connection for as long as it
/// liked, and 400 such clients, with no token at all (`POST /api/session`), held every
/// connection a host allowed (found by a hostile review). Bodies here are small (at most
/// `--max-body`, 1 MiB): ten seconds is ample on any link a dashboard runs on.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Lets a request in, or answers it at once: `413 payload_too_large` (connection closed,
/// no `100 Continue`) when its `Content-Length` is over `max_body`; `404 not_found` when a
/// path segment is longer than any name here; and its body, if it has one, read whole
/// within [`BODY_TIMEOUT`] and `max_body` before the route sees it — `408
/// request_timeout` when it does not come in time, `413` when a body without a declared
/// length grows past the limit (both closing the connection: what is left of the request
/// is not read). Requests without a body (every read, the live feed) pass untouched.
pub(super) async fn admit(request: Request<Incoming>, max_body: usize) -> Result<Request<Body>, Response> {
    let headers = request.headers();
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let chunked = headers.contains_key(header::TRANSFER_ENCODING);
    if let Some(length) = declared.filter(|length| *length > max_body as u64) {
        return Err(ApiError::PayloadTooLarge(format!("a body of {length} bytes; at most {max_body}")).into_response());
    }
    let path = request.uri().path();
    if decoded_len(path) > MAX_PATH {
        return Err(ApiError::OverlongName { what: "path", max: MAX_PATH }.into_response());
    }
    if path.split('/').any(|segment| decoded_len(segment) > MAX_SEGMENT) {
        return Err(ApiError::OverlongName { what: "path segment", max: MAX_SEGMENT }.into_response());
    }
    if declared.unwrap_or(0) == 0 && !chunked {
        return Ok(request.map(Body::new));
    }
    let (parts, body) = request.into_parts();
    match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(Body::new(body), max_body)).await {
        Ok(Ok(bytes)) => Ok(Request::from_parts(parts, Body::from(bytes))),
        Ok(Err(_)) => {
            Err(ApiError::PayloadTooLarge(format!("the body did not end within {max_body} bytes, or broke off"))
                .into_response())
        }
        Err(_) => Err(ApiError::BodyTooSlow(BODY_TIMEOUT).into_response()),
    }
}

/// Longest path segment that can name anything here: a file name (`NAME_MAX`; the static
/// files) — ids are shorter still (128 bytes). Opening a file by a longer name fails with
/// "name too long", which the static files would answer `500`.
const MAX_SEGMENT: usize = 255;

/// Longest path that can name anything here (decoded): an API path is at most about 300
/// bytes (two ids of 128), a static file's a few dozen. The file system's own limit
/// (`PATH_MAX`, 4,096 bytes with the dashboard folder's path in front) answered a longer
/// one of short segments `500` (found by a hostile review).
const MAX_PATH: usize = 2048;

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
