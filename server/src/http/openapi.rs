//! The HTTP API described as an OpenAPI 3.1 document, generated from the handlers'
//! `#[utoipa::path]` declarations and from the very types the server and the core
//! serialize. The router is built from the same declarations (`utoipa_axum::routes!`), so
//! a route cannot exist without being in the document; `GET /api/openapi.json` serves it
//! and `agentstate openapi` prints it (the dashboard's HTTP types are generated from it).

use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};

use agentstate_core::{Action, Actor, CommandId};

/// One command as a client sends it: the action, an optional id for retries, and
/// optionally the caller's own user id as `actor`. `at` comes from the server's clock.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)] // a description of the wire form; `body::commands_of` reads it
pub struct PostedCommand {
    /// The client's id: the same id sent again gets the first answer back (`retried`).
    id: Option<CommandId>,
    /// If given, the caller's own user id; any other is refused with `actor_mismatch`.
    actor: Option<Actor>,
    #[serde(flatten)]
    action: Action,
}

/// One command (answered with one outcome) or up to 1000 (answered with `results`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum CommandsBody {
    One(PostedCommand),
    Batch(Vec<PostedCommand>),
}

#[derive(Debug)]
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("ast_…").build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                super::auth::SESSION_COOKIE,
                "the HttpOnly cookie `POST /api/session` sets; writes also need a same-origin request",
            ))),
        );
    }
}

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "agentstate",
        description = "Contact-center agent states: commands decided by the rule module, views, the live feed.",
        license(name = "MIT OR Apache-2.0")
    ),
    modifiers(&Security),
    security(("token" = []), ("session" = [])),
    tags(
        (name = "commands", description = "Commands in, outcomes out"),
        (name = "views", description = "What dashboards ask, answered by the rule module"),
        (name = "session", description = "Signing a browser in and out"),
        (name = "operations", description = "Health, metrics and this document")
    )
)]
pub struct ApiDoc;

/// A tenant's routes.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TenantPath {
    /// The tenant's name; a token or session of another tenant gets `unknown_tenant`.
    pub tenant: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ChannelPath {
    pub tenant: String,
    /// A queue, chat or campaign.
    pub channel: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct UserPath {
    pub tenant: String,
    pub user: String,
}
