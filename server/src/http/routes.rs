//! The router: every JSON route with its OpenAPI declaration, the static files, and the
//! request log around them.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use tower::Layer;
use tower_http::LatencyUnit;
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::errors::ApiError;
use super::ops::{self, no_dashboard};
use super::{App, ServeConfig, api, feed, metrics, openapi, session, sso};

/// Every route of the API and of operations, each registered with its OpenAPI declaration
/// (`routes!`), so the document ([`document`]) and the router cannot disagree. Only
/// this function registers routes that answer JSON; static files are added in `router`.
pub(super) fn routes(max_body: usize) -> OpenApiRouter<App> {
    let api = OpenApiRouter::new()
        .routes(routes!(api::post_commands))
        .routes(routes!(api::roster))
        .routes(routes!(api::channel_states))
        .routes(routes!(api::channel_counts))
        .routes(routes!(api::search_users))
        .routes(routes!(api::allowed_actions))
        .routes(routes!(api::history))
        .routes(routes!(api::lingering_unassigned))
        .routes(routes!(api::snapshot))
        .routes(routes!(api::activity_report))
        .routes(routes!(feed::events))
        .routes(routes!(api::me))
        .routes(routes!(session::sign_in, session::sign_out))
        .routes(routes!(sso::offer))
        .routes(routes!(sso::settings))
        .routes(routes!(openapi_json))
        .route_layer(axum::middleware::from_fn(metrics::track))
        .fallback(|| async { ApiError::NoSuchRoute })
        .layer(DefaultBodyLimit::max(max_body));
    // Nested, so that its fallback answers unknown /api/… paths with a JSON error.
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(ops::healthz))
        .routes(routes!(metrics::render))
        .routes(routes!(ops::demo_tokens))
        .route_layer(axum::middleware::from_fn(metrics::track))
        .nest("/api", api)
}

pub(super) fn router(app: App, config: &ServeConfig) -> Router {
    let (router, _) = routes(config.max_body).split_for_parts();
    // Single sign-on's redirects: pages for a browser, not API routes.
    let mut router = router
        .route("/signin/{tenant}/start", axum::routing::get(sso::start))
        .route("/signin/{tenant}/callback", axum::routing::get(sso::callback));
    // Static files go out gzipped to browsers that accept it (the browser module shrinks
    // to about a quarter); the API and the live feed are not compressed.
    if let Some(pkg) = &config.pkg {
        router = router.nest_service("/pkg", CompressionLayer::new().gzip(true).layer(ServeDir::new(pkg)));
    }
    router = match &config.web {
        // The sign-in page, also at `/signin#<link secret>` (what `token create --link` prints).
        Some(web) => router
            .route_service("/signin", ServeFile::new(web.join("signin.html")))
            // A tenant's own sign-in page, which offers its single sign-on.
            .route_service("/signin/{tenant}", ServeFile::new(web.join("signin.html")))
            .fallback_service(CompressionLayer::new().gzip(true).layer(ServeDir::new(web))),
        None => router.fallback(no_dashboard),
    };
    // One span and one line per request (method, path, status, latency), at INFO.
    let trace = TraceLayer::new_for_http()
        .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
        .on_request(())
        .on_response(DefaultOnResponse::new().level(Level::INFO).latency_unit(LatencyUnit::Micros));
    router.layer(trace).with_state(app)
}

/// The document as served, built once from the router's own declarations.
pub fn document() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let (_, doc) = routes(0).split_for_parts();
        doc.to_pretty_json().unwrap_or_default()
    })
}

/// `GET /api/openapi.json`
#[utoipa::path(get, path = "/openapi.json", tag = "operations", security(()),
    responses((status = 200, description = "This document (OpenAPI 3.1)", body = serde_json::Value)))]
pub async fn openapi_json() -> Response {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], document()).into_response()
}
