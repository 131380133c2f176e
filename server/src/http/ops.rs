//! The operations routes: health for load balancers, the demo's tokens for this machine,
//! and what answers where no dashboard is built.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Json, Response};

use super::App;
use super::answers;
use super::errors::{ApiError, Failure};
use crate::demo;
use crate::service::writer::Health;

/// 200 while the store answers, else 503 — so a load balancer stops sending to a host
/// that cannot commit.
#[utoipa::path(get, path = "/healthz", tag = "operations", security(()),
    responses(
        (status = 200, description = "The store answers", body = answers::Health),
        (status = 503, description = "The store does not answer", body = answers::Health),
    ))]
pub(super) async fn healthz(State(app): State<App>) -> Response {
    match app.shared.writer.health().await {
        Ok(Health { store: Ok(()), loaded }) => {
            Json(answers::Health { status: "ok", store: "ok".into(), tenants: loaded }).into_response()
        }
        Ok(Health { store: Err(e), loaded }) => {
            // What failed is the operator's to read in the log, not the caller's.
            let failed = ApiError::internal(Failure::Storage, &e).to_string();
            let health = answers::Health { status: "unavailable", store: failed, tenants: loaded };
            (axum::http::StatusCode::SERVICE_UNAVAILABLE, Json(health)).into_response()
        }
        Err(gone) => ApiError::from(gone).into_response(),
    }
}

/// The demo tenant's users and their tokens (only with `--demo`, on loopback, asked for
/// from this machine by a loopback name).
#[utoipa::path(get, path = "/demo/tokens", tag = "operations", security(()),
    responses(
        (status = 200, description = "The demo tenant and each of its users' token", body = demo::DemoTokens),
        (status = 403, description = "Not asked for from this machine by a loopback name (`not_loopback`)", body = answers::ErrorBody),
        (status = 404, description = "This server runs no demo tenant (`no_demo`)", body = answers::ErrorBody),
    ))]
pub(super) async fn demo_tokens(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
) -> Response {
    let Some(tokens) = &app.shared.demo_tokens else {
        return ApiError::NoDemo.into_response();
    };
    // The listen address alone is not enough: with DNS rebinding a page of evil.example,
    // its name now resolving to 127.0.0.1, reaches a loopback server from the victim's
    // browser and may read the answer (same origin as far as the browser knows). Its
    // requests still say `Host: evil.example`, so the name asked for must be loopback too.
    let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok());
    if !peer.ip().to_canonical().is_loopback() || !host.is_some_and(loopback_host) {
        return ApiError::NotLoopback.into_response();
    }
    Json(tokens.clone()).into_response()
}

/// Whether a `Host` header names this machine by a loopback name: `localhost`, an address
/// in 127.0.0.0/8, or `[::1]`, with or without a port.
fn loopback_host(host: &str) -> bool {
    // A Host header is `host[:port]` and nothing else; the URI parser also takes a user
    // part (`user@host`) and more, which no browser sends as a Host.
    let Ok(authority) = host.parse::<axum::http::uri::Authority>() else { return false };
    let name = authority.host();
    let port = authority.port_u16();
    let exact = match port {
        Some(port) => host.strip_suffix(&format!(":{port}")) == Some(name),
        None => host == name,
    };
    if !exact {
        return false;
    }
    let name = name.strip_prefix('[').and_then(|v6| v6.strip_suffix(']')).unwrap_or(name);
    name.eq_ignore_ascii_case("localhost") || name.parse::<IpAddr>().is_ok_and(|ip| ip.to_canonical().is_loopback())
}

pub(super) async fn no_dashboard() -> Response {
    (
        axum::http::StatusCode::NOT_FOUND,
        "The dashboard is not built. `cargo xtask run` builds it (web-demo/dist) and starts the server.",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::loopback_host;

    #[test]
    fn only_loopback_names_are_loopback_hosts() {
        for host in ["localhost", "LOCALHOST:8080", "127.0.0.1", "127.0.0.1:8080", "127.1.2.3:1", "[::1]", "[::1]:8080"]
        {
            assert!(loopback_host(host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:8080",
            "localhost.evil.example:8080",
            "127.0.0.1.evil.example",
            "10.0.0.1:8080",
            "[::2]:8080",
            "[::1]x",
            "::1",
            "",
            // Found by the red team: a user part, a port that is no number.
            "127.0.0.1:1@evil.example",
            "localhost@evil.example",
            "127.0.0.1:80x",
            "127.0.0.1:",
        ] {
            assert!(!loopback_host(host), "{host}");
        }
    }
}
