//! The JSON API: commands in, outcomes out; views as the module answers them.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use utoipa::{IntoParams, ToSchema};

use super::App;
use super::answers::{
    BatchOutcome, CommandsAnswer, ErrorBody, Me, Presented, PresentedRejection, RejectedOrRefused, SnapshotAnswer,
    StoreFailures, ViewFailures,
};
use super::auth::Caller;
use super::body::{Commands, commands_of};
use super::errors::{ApiError, Failure};
use super::openapi::{ChannelPath, CommandsBody, TenantPath, UserPath};
use super::query::{Path, Query};
use crate::service::Submitted;
use agentstate_core::wire::RejectionReport;
use agentstate_core::{
    Actor, Category, ChannelId, Lang, Millis, Query as View, RejectionCode, RoleSet, SightSummary, UserId,
};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LangParam {
    /// `en` or `de` for rejection messages; else the first tag of `Accept-Language`.
    lang: Option<String>,
}

/// The language of messages: `?lang=`, else the first tag of `Accept-Language`.
fn lang(headers: &HeaderMap, param: &LangParam) -> Lang {
    let header = || headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    param.lang.as_deref().or_else(header).map_or(Lang::En, |tag| Lang::from_tag(tag.trim()))
}

/// How a kind of rejection maps onto HTTP; every code follows from its category.
fn status_of(category: Category) -> StatusCode {
    match category {
        Category::Input => StatusCode::BAD_REQUEST,
        Category::Authority => StatusCode::FORBIDDEN,
        Category::UnknownId => StatusCode::UNPROCESSABLE_ENTITY,
        Category::State | Category::Policy => StatusCode::CONFLICT,
    }
}

/// An outcome as the module wrote it, read once.
#[derive(Deserialize)]
struct Told<'a> {
    #[serde(borrow)]
    events: Option<Vec<&'a RawValue>>,
    rejection: Option<RejectionReport>,
}

/// What the module said: for a command accepted now, the events the runtime read from its
/// outcome; else (a rejection, a retry) the outcome read here, once. One that cannot be
/// read is a defect: the client learns it failed, never a guess at what it said.
fn told(submitted: &Submitted) -> Result<Told<'_>, ApiError> {
    if let Some(events) = &submitted.accepted {
        return Ok(Told { events: Some(events.iter().map(|e| &**e).collect()), rejection: None });
    }
    serde_json::from_str(&submitted.outcome)
        .map_err(|e| ApiError::internal(Failure::Module, &format_args!("the module's outcome is unreadable: {e}")))
}

fn present<'a>(submitted: &Submitted, told: &'a Told<'a>, lang: Lang) -> (StatusCode, Presented<'a>) {
    let retried = if submitted.retried { "true" } else { "false" };
    let code = told.rejection.as_ref().map(|r| r.rejection.code());
    let status = code.map_or(StatusCode::OK, |c| status_of(c.category()));
    metrics::counter!("agentstate_commands_total",
        "outcome" => if code.is_some() { "rejected" } else { "accepted" },
        "code" => code.map_or("", RejectionCode::as_str), "retried" => retried)
    .increment(1);
    let rejection = told.rejection.as_ref().map(|r| PresentedRejection {
        rejection: &r.rejection,
        message: match lang {
            Lang::En => r.message.en.as_str(),
            Lang::De => r.message.de.as_str(),
        },
    });
    let presented = Presented {
        outcome: if code.is_some() { "rejected" } else { "accepted" },
        events: told.events.clone(),
        rejection,
        seq: submitted.seq,
        retried: submitted.retried,
    };
    (status, presented)
}

/// One command (an object) or a batch (an array), each decided in turn.
///
/// A rejected command is answered with the HTTP status of its rejection's category:
/// input 400, authority 403, unknown id 422, state or policy 409.
#[utoipa::path(post, path = "/tenants/{tenant}/commands", tag = "commands",
    params(TenantPath, LangParam),
    request_body = CommandsBody,
    responses(
        (status = 200, description = "Accepted (one command), or the outcomes of a batch", body = CommandsAnswer),
        (status = 400, description = "Rejected as input, or a body the API refuses (`at_not_allowed`)", body = RejectedOrRefused),
        (status = 401, description = "No valid token or session", body = ErrorBody),
        (status = 403, description = "Rejected for authority, or `actor_mismatch`", body = RejectedOrRefused),
        (status = 404, description = "Not this token's tenant", body = ErrorBody),
        (status = 409, description = "Rejected by the state or the tenant's policy", body = RejectedOrRefused),
        (status = 413, description = "More than 1000 commands, or too large a body", body = ErrorBody),
        (status = 422, description = "Rejected: an id the tenant does not know", body = Presented),
        (status = 503, description = "The store or the module failed; nothing was applied", body = ErrorBody),
    ))]
pub async fn post_commands(
    State(app): State<App>,
    Path(TenantPath { tenant }): Path<TenantPath>,
    Query(param): Query<LangParam>,
    headers: HeaderMap,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(format!("{e}; send fewer commands"))
        } else {
            ApiError::UnreadableBody(e.to_string())
        }
    })?;
    let lang = lang(&headers, &param);
    let Commands { batch, commands } = commands_of(&body, caller.actor.as_str())?;
    let results = app.shared.writer.submit(tenant.clone(), commands).await?;
    let failed = results.iter().filter(|r| r.is_err()).count();
    if failed > 0 {
        metrics::counter!("agentstate_commands_failed_total").increment(failed as u64);
    }
    if !batch {
        let submitted: Vec<Submitted> = results.into_iter().collect::<Result<_, _>>()?;
        let told: Vec<Told> = submitted.iter().map(told).collect::<Result<_, _>>()?;
        let (Some(submitted), Some(told)) = (submitted.first(), told.first()) else {
            return Err(ApiError::ShuttingDown);
        };
        let (status, presented) = present(submitted, told, lang);
        return Ok((status, Json(CommandsAnswer::One(presented))).into_response());
    }
    // In a batch each command has its own outcome.
    let each: Vec<Submitted> = results.into_iter().collect::<Result<_, _>>()?;
    let told_each: Vec<Told> = each.iter().map(told).collect::<Result<_, _>>()?;
    // Where the log ends after the batch — also when it decided nothing (an empty one):
    // never 0 for a log that has events.
    let seq = match each.iter().map(|s| s.seq).max() {
        Some(seq) => seq,
        None => app.shared.writer.last_seq(tenant).await?,
    };
    let results = each.iter().zip(&told_each).map(|(submitted, told)| present(submitted, told, lang).1).collect();
    Ok(Json(CommandsAnswer::Batch(BatchOutcome { results, seq })).into_response())
}

/// Asks the tenant's module a view query, built for the server's time `at` (never before
/// the tenant's last event).
async fn view(
    app: &App,
    tenant: String,
    query: impl FnOnce(Millis) -> View + Send + 'static,
) -> Result<String, ApiError> {
    Ok(app.shared.writer.view(tenant, query).await?)
}

fn json_response(answer: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], answer).into_response()
}

/// A channel's roster: its agents, their sign-ins, pauses and wrap-ups, its supervisors.
#[utoipa::path(get, path = "/tenants/{tenant}/channels/{channel}/roster", tag = "views", params(ChannelPath),
    responses(
        (status = 200, description = "The roster", body = agentstate_core::views::Roster),
        ViewFailures,
        (status = 404, description = "No such channel (`unknown_channel`)", body = ErrorBody),
    ))]
pub async fn roster(
    State(app): State<App>,
    Path(path): Path<ChannelPath>,
    caller: Caller,
) -> Result<Response, ApiError> {
    channel_view(app, path, caller, |actor, channel, at| View::Roster { actor, channel, at }).await
}

/// Time in state, now: each agent's state on the channel, since when, and counts per state.
#[utoipa::path(get, path = "/tenants/{tenant}/channels/{channel}/states", tag = "views", params(ChannelPath),
    responses(
        (status = 200, description = "Each agent's state now", body = agentstate_core::views::ChannelStates),
        (status = 404, description = "No such channel (`unknown_channel`)", body = ErrorBody),
        ViewFailures,
    ))]
pub async fn channel_states(
    State(app): State<App>,
    Path(path): Path<ChannelPath>,
    caller: Caller,
) -> Result<Response, ApiError> {
    channel_view(app, path, caller, |actor, channel, at| View::ChannelStates { actor, channel, at }).await
}

/// A view of one channel, asked as `query` builds it; `unknown_channel` for a channel that
/// does not exist or is out of the caller's sight.
async fn channel_view(
    app: App,
    ChannelPath { tenant, channel }: ChannelPath,
    caller: Caller,
    query: impl FnOnce(Actor, ChannelId, Millis) -> View + Send + 'static,
) -> Result<Response, ApiError> {
    let actor = caller.actor.clone();
    // An id that cannot be a channel's names no channel.
    let Ok(id) = ChannelId::new(&channel) else { return Err(ApiError::UnknownChannel(channel)) };
    let answer = view(&app, tenant, move |at| query(actor, id, at)).await?;
    // Outside the caller's sight is answered as not there at all.
    if answer == "null" {
        return Err(ApiError::UnknownChannel(channel));
    }
    Ok(json_response(answer))
}

/// The counts per state on each channel the caller is assigned to: what an agent sees of
/// their team, without names.
#[utoipa::path(get, path = "/tenants/{tenant}/channel-counts", tag = "views", params(TenantPath),
    responses(
        (status = 200, description = "The caller's channels with the counts per state", body = Vec<agentstate_core::ChannelCount>),
        ViewFailures,
        (status = 404, description = "Not this token's tenant", body = ErrorBody),
    ))]
pub async fn channel_counts(
    State(app): State<App>,
    Path(TenantPath { tenant }): Path<TenantPath>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let actor = caller.actor.clone();
    view(&app, tenant, move |at| View::ChannelCounts { actor, at }).await.map(json_response)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChannelParam {
    /// Only this channel's actions; all the user's channels when left out.
    channel: Option<String>,
}

/// Which actions the caller may take on the user now, and for each refused one why.
#[utoipa::path(get, path = "/tenants/{tenant}/users/{user}/allowed-actions", tag = "views",
    params(UserPath, ChannelParam),
    responses(
        (status = 200, description = "A verdict per action", body = agentstate_core::views::AllowedActions),
        (status = 400, description = "A query the module cannot read (`invalid_query`)", body = ErrorBody),
        ViewFailures,
        (status = 404, description = "Not this token's tenant", body = ErrorBody),
    ))]
pub async fn allowed_actions(
    State(app): State<App>,
    Path(UserPath { tenant, user }): Path<UserPath>,
    Query(param): Query<ChannelParam>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let actor = caller.actor.clone();
    let Ok(user) = UserId::new(&user) else { return Err(ApiError::UnknownUser(user)) };
    let channel = match param.channel {
        None => None,
        Some(c) => Some(ChannelId::new(&c).map_err(|_| ApiError::UnknownChannel(c.clone()))?),
    };
    view(&app, tenant, move |at| View::AllowedActions { actor, user, channel, at }).await.map(json_response)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParam {
    /// Part of a name or id; case and accents do not matter.
    #[serde(default)]
    search: String,
    /// Comma-separated roles, every one of which a match must have.
    #[serde(default)]
    roles: String,
}

/// Users by name or id (`?search=muller&roles=agent`): the "+ Log agent" picker.
#[utoipa::path(get, path = "/tenants/{tenant}/users", tag = "views", params(TenantPath, SearchParam),
    responses(
        (status = 200, description = "Matching users, best first", body = Vec<agentstate_core::views::UserMatch>),
        ViewFailures,
        (status = 404, description = "Not this token's tenant", body = ErrorBody),
    ))]
pub async fn search_users(
    State(app): State<App>,
    Path(TenantPath { tenant }): Path<TenantPath>,
    Query(param): Query<SearchParam>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let actor = caller.actor.clone();
    let roles: Vec<&str> = param.roles.split(',').map(str::trim).filter(|r| !r.is_empty()).collect();
    let roles: RoleSet =
        serde_json::from_value(serde_json::json!(roles)).map_err(|e| ApiError::InvalidQuery(format!("roles: {e}")))?;
    let text = param.search;
    view(&app, tenant, move |_| View::SearchUsers { actor, text, roles }).await.map(json_response)
}

/// Sign-ins that outlived their assignment: they last until someone signs the agent out.
#[utoipa::path(get, path = "/tenants/{tenant}/lingering-unassigned", tag = "views", params(TenantPath),
    responses(
        (status = 200, description = "The lingering sign-ins", body = Vec<agentstate_core::views::LingeringSignIn>),
        ViewFailures,
        (status = 404, description = "Not this token's tenant", body = ErrorBody),
    ))]
pub async fn lingering_unassigned(
    State(app): State<App>,
    Path(TenantPath { tenant }): Path<TenantPath>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let actor = caller.actor.clone();
    view(&app, tenant, move |_| View::LingeringUnassigned { actor }).await.map(json_response)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParam {
    /// Only events before this sequence number (the `next_before` of the previous page);
    /// from the newest when absent.
    before: Option<u64>,
    /// Events on the page: 100 when absent, at most 1,000.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

/// A page of the events about the user, newest first, read through the index of each
/// user's events: its cost is the page, not the log. An event about the user and someone
/// else (a supervisor's monitoring of an agent) shows when the caller sees the agent it
/// is about, as in the snapshot and the feed.
#[utoipa::path(get, path = "/tenants/{tenant}/users/{user}/history", tag = "views", params(UserPath, PageParam),
    responses(
        (status = 200, description = "A page of the user's events in the kept log", body = HistoryAnswer,
            headers(("Log-Begins" = String, description = "`seq=<first kept>, at=<ms>`: where the kept log begins (absent until events were pruned)"))),
        (status = 400, description = "`limit` not between 1 and 1,000 (`invalid_query`)", body = ErrorBody),
        StoreFailures,
        (status = 404, description = "Not this token's tenant, or a user out of the caller's sight", body = ErrorBody),
    ))]
pub async fn history(
    State(app): State<App>,
    Path(UserPath { tenant, user }): Path<UserPath>,
    Query(page): Query<PageParam>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let limit = page.limit.unwrap_or(crate::service::HISTORY_DEFAULT);
    if !(1..=crate::service::HISTORY_MAX).contains(&limit) {
        return Err(ApiError::InvalidQuery(format!("limit {limit}: between 1 and {}", crate::service::HISTORY_MAX)));
    }
    let sight = sight_of(&app, &tenant, &caller).await?;
    if !sight.sees_user(&user) {
        return Err(ApiError::UnknownUser(user));
    }
    let found = app.shared.reads.history(&tenant, &user, page.before, limit).await?;
    let events = found
        .events
        .into_iter()
        // An event is shown when the caller sees whom it is about — its subject: a
        // monitoring is about the agent monitored, as the snapshot and the feed show it.
        .filter(|(_, event)| event.change.users()[0].is_none_or(|subject| sight.sees_user(subject)))
        .map(|(seq, event)| HistoryEntry { seq, event })
        .collect();
    let answer = HistoryAnswer { events, next_before: found.next_before };
    Ok(with_log_begins(Json(answer).into_response(), found.begins))
}

/// A page of a user's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryAnswer {
    /// Newest first.
    pub events: Vec<HistoryEntry>,
    /// The `before` of the next, older page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_before: Option<u64>,
}

/// One event of a history, with where it stands in the log.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEntry {
    /// Its sequence number; 0 for the events of the tenant's description.
    pub seq: u64,
    pub event: agentstate_core::Event,
}

/// What the caller may see of the tenant as of event `seq`, for a dashboard that mirrors
/// it and follows `/events?after=seq`. Read from the store apart from the writer.
#[utoipa::path(get, path = "/tenants/{tenant}/snapshot", tag = "views", params(TenantPath),
    responses(
        (status = 200, description = "The state and its sequence number", body = SnapshotAnswer),
        StoreFailures,
        (status = 404, description = "Not this token's tenant", body = ErrorBody),
    ))]
pub async fn snapshot(
    State(app): State<App>,
    Path(TenantPath { tenant }): Path<TenantPath>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let actor = caller.actor.clone();
    let whole = app.shared.reads.state(&tenant).await?;
    let (seq, state) = (&whole.0, &whole.1);
    let seen = agentstate_core::wire::to_json(&agentstate_core::seen_by(state, &actor));
    let state = RawValue::from_string(seen).map_err(|e| ApiError::internal(Failure::Server, &e))?;
    Ok(Json(SnapshotAnswer { seq: *seq, state: &state }).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeParam {
    /// Milliseconds since the epoch, like `at`.
    from: u64,
    /// At most 31 days after `from`; a `to` after now is now.
    to: u64,
    /// `json` (the default) or `csv`.
    #[param(pattern = "^(json|csv)$")]
    format: Option<String>,
}

/// Each agent's states per channel between `from` and `to`, with totals: the day at a
/// glance, as JSON or as CSV (`format=csv`). Every agent in the caller's sight who was
/// assigned in the range has a row, also one who never signed in. Folded from the
/// snapshot nearest `from` and the events of the range, apart from the writer.
#[utoipa::path(get, path = "/tenants/{tenant}/reports/activity", tag = "views", params(TenantPath, RangeParam),
    responses(
        (status = 200, description = "The report", content(
            (agentstate_core::views::ActivityReport = "application/json"),
            (String = "text/csv")),
            headers(("Log-Begins" = String, description = "`seq=<first kept>, at=<ms>`: where the kept log begins (absent until events were pruned); rows before `at` show `signed_out`"))),
        (status = 400, description = "`to` before `from`, or more than 31 days after it once both end at now (`invalid_range`), or an unknown `format`", body = ErrorBody),
        StoreFailures,
        (status = 404, description = "Not this token's tenant", body = ErrorBody),
    ))]
pub async fn activity_report(
    State(app): State<App>,
    Path(TenantPath { tenant }): Path<TenantPath>,
    Query(range): Query<RangeParam>,
    caller: Caller,
) -> Result<Response, ApiError> {
    // The range is checked before anything is read; time that has not happened yet is
    // not counted.
    let (from, to) = crate::service::report_range(range.from, range.to, crate::clock::now_ms())
        .map_err(|e| ApiError::InvalidRange(e.to_string()))?;
    let csv = match range.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::InvalidFormat(other.to_owned()));
        }
    };
    let sight = sight_of(&app, &tenant, &caller).await?;
    let actor = caller.actor.clone();
    let (mut report, begins) = app.shared.reads.activity(&tenant, from, to).await?;
    // Only the rows of the people the caller sees, on the channels in their reach.
    report.rows.retain(|row| sight.shows(&actor, &row.user, &row.channel));
    if !csv {
        return Ok(with_log_begins(Json(report).into_response(), begins));
    }
    let text = crate::reports::activity_csv(&report).map_err(|e| ApiError::internal(Failure::Report, &e))?;
    let disposition = format!("attachment; filename=\"activity-{from}-{to}.csv\"");
    let response = (
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, disposition)],
        text,
    )
        .into_response();
    Ok(with_log_begins(response, begins))
}

/// Says where the kept log begins, once older events were pruned (`Log-Begins`).
fn with_log_begins(mut response: Response, begins: Option<crate::service::LogBegins>) -> Response {
    if let Some((name, value)) = super::retention::log_begins_header(begins) {
        response.headers_mut().insert(name, value);
    }
    response
}

/// Whom the caller sees, as the tenant stands now (the module's `sight` view).
async fn sight_of(app: &App, tenant: &str, caller: &Caller) -> Result<SightSummary, ApiError> {
    let actor = caller.actor.clone();
    let answer = view(app, tenant.to_owned(), move |_| View::Sight { actor }).await?;
    serde_json::from_str(&answer).map_err(|e| ApiError::internal(Failure::Module, &format_args!("sight: {e}")))
}

/// Who the token or session speaks for.
#[utoipa::path(get, path = "/me", tag = "session",
    responses(
        (status = 200, description = "The tenant and the actor", body = Me),
        (status = 401, description = "No valid token or session", body = ErrorBody),
    ))]
pub async fn me(caller: Caller) -> Json<Me> {
    Json(Me { tenant: caller.tenant, actor: caller.actor.to_string() })
}
