//! What every request passes on its way in and out, around the router: the request's
//! bounds (`request_bounds`) before it, the API's error shape for a method a route does not
//! take after it.
//!
//! Plain calls, not tower layers: as four `from_fn`/`map_response` layers these cost each
//! request a boxed future and a clone of the router's service per layer — about 10 µs of
//! server CPU per command under `api_load` (issue 26's write-path budget).

use axum::Router;
use axum::http::{Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use tower::Service;

use super::errors::ApiError;
use super::request_bounds;

/// The router and what runs around it; one clone per connection.
#[derive(Clone, Debug)]
pub struct Front {
    router: Router,
    max_body: usize,
}

impl Front {
    pub fn new(router: Router, max_body: usize) -> Front {
        Front { router, max_body }
    }

    /// The answer to one request.
    pub async fn answer(&mut self, request: Request<Incoming>) -> Response {
        // Kept for the log line of a refusal: both clones share the request's bytes (no
        // copy of the path on every request).
        let (method, uri) = (request.method().clone(), request.uri().clone());
        let request = match request_bounds::admit(request, self.max_body).await {
            Ok(request) => request,
            Err(refused) => {
                tracing::info!(%method, path = uri.path(), status = refused.status().as_u16(), "refused before routing");
                return refused;
            }
        };
        let response = match self.router.call(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        in_api_shape(response)
    }
}

/// A method a route does not take is answered in the API's error shape too (axum's own
/// answer has no body), keeping the `Allow` header.
fn in_api_shape(response: Response) -> Response {
    if response.status() != StatusCode::METHOD_NOT_ALLOWED || response.headers().contains_key(header::CONTENT_TYPE) {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let mut refused = ApiError::MethodNotAllowed.into_response();
    if let Some(allow) = allow {
        refused.headers_mut().insert(header::ALLOW, allow);
    }
    refused
}
