//! What the API answers: every response body, as the handlers serialize it and as the
//! OpenAPI document describes it (`openapi.rs` reads these types; handlers build them).

use serde::Serialize;
use serde_json::value::RawValue;
use utoipa::ToSchema;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

use agentstate_core::Rejection;

/// The outcome as a client gets it: the rejection's message in one language, plus where the
/// log stands and whether this was a retry.
#[derive(Debug, Serialize, ToSchema)]
pub struct Presented<'a> {
    /// `accepted` or `rejected`.
    pub(super) outcome: &'static str,
    /// What an accepted command changed, in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    #[schema(value_type = Option<Vec<agentstate_core::Event>>)]
    pub(super) events: Option<Vec<&'a RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub(super) rejection: Option<PresentedRejection<'a>>,
    /// The log's sequence number after this command.
    pub(super) seq: u64,
    /// This command's `id` was seen before: this is the first answer, sent again.
    pub(super) retried: bool,
}

/// The rejection (its `code` and the code's fields) with its message in one language.
#[derive(Debug, Serialize, ToSchema)]
pub struct PresentedRejection<'a> {
    #[serde(flatten)]
    pub(super) rejection: &'a Rejection,
    pub(super) message: &'a str,
}

/// The body of every error of the HTTP layer (rule rejections are outcomes, not errors).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody<'a> {
    pub error: ErrorDetail<'a>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail<'a> {
    /// A stable snake_case code, e.g. `unauthorized`, `unknown_tenant`, `batch_too_large`.
    pub code: &'a str,
    /// What went wrong, in English.
    pub message: &'a str,
}

/// The failures every route that asks the tenant's module may answer besides its own: no
/// valid credential (401), the store or the module failed (503). Written once, for the
/// OpenAPI document (`responses(…, ViewFailures)`).
#[derive(Debug)]
pub struct ViewFailures;

/// The failures of a route that reads the store only: 401, and 503 when the store failed.
#[derive(Debug)]
pub struct StoreFailures;

impl utoipa::IntoResponses for ViewFailures {
    fn responses() -> std::collections::BTreeMap<String, RefOr<Response>> {
        failures("The store or the module failed")
    }
}

impl utoipa::IntoResponses for StoreFailures {
    fn responses() -> std::collections::BTreeMap<String, RefOr<Response>> {
        failures("The store failed")
    }
}

fn failures(failed: &str) -> std::collections::BTreeMap<String, RefOr<Response>> {
    let error = |description: &str| -> RefOr<Response> {
        let body = ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
        ResponseBuilder::new().description(description).content("application/json", body).build().into()
    };
    [("401".to_owned(), error("No valid token or session")), ("503".to_owned(), error(failed))].into()
}

/// The answers to a batch, in the order sent, and where the log stands after it.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchOutcome<'a> {
    /// Each command's outcome, in the batch's order.
    pub results: Vec<Presented<'a>>,
    pub seq: u64,
}

/// The answer to a command request: one outcome for one command, `results` for a batch.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum CommandsAnswer<'a> {
    One(Presented<'a>),
    Batch(BatchOutcome<'a>),
}

/// A 400, 403 or 409 answer to a command request: the rule module's rejection, or the API's
/// own refusal of the request (`at_not_allowed`, `actor_mismatch`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // describes the two shapes those statuses carry; each is written as itself
pub enum RejectedOrRefused<'a> {
    Rejected(Presented<'a>),
    Refused(ErrorBody<'a>),
}

/// Who the request speaks for.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub tenant: String,
    /// A user id of the tenant, or `system`.
    pub actor: String,
}

/// A session opened: who it speaks for and when it ends (milliseconds since the epoch).
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionOpened {
    pub tenant: String,
    pub actor: String,
    pub expires: u64,
}

/// The state as of event `seq`, for a dashboard that mirrors the tenant and then follows
/// `/events?after=seq`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SnapshotAnswer<'a> {
    pub seq: u64,
    #[schema(value_type = agentstate_core::State)]
    pub state: &'a serde_json::value::RawValue,
}

/// One message of the live feed (its `data:`), by its SSE `event:` name: `event`, one event;
/// `events`, several to apply together (a person or channel coming into or leaving the
/// caller's sight); `snapshot`, what the caller may see of the tenant, sent first when a
/// person's feed does not start where the log stands (their mirror starts anew from it);
/// `counts` (no `id:`), a person's channels with the counts per state as
/// `/channel-counts` answers them, sent when the feed starts and when a count changes, at
/// most once a second.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum FeedMessage<'a> {
    Event(agentstate_core::Event),
    Events(Vec<agentstate_core::Event>),
    Snapshot(SnapshotAnswer<'a>),
    Counts(Vec<agentstate_core::ChannelCount>),
}

/// Whether this host can serve: its store answers, and how many tenants it has loaded.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: &'static str,
    /// `ok`, or why the store does not answer.
    pub store: String,
    pub tenants: usize,
}
