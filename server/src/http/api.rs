//! The JSON API: commands in, outcomes out; views as the module answers them.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::App;
use super::auth::Caller;
use super::body::{Commands, commands_of};
use super::errors::ApiError;
use crate::service::Submitted;
use agentstate_core::wire::RejectionReport;
use agentstate_core::{Category, Lang, Rejection, RejectionCode};

#[derive(Debug, Default, Deserialize)]
pub struct LangParam {
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
    events: Option<&'a RawValue>,
    rejection: Option<RejectionReport>,
}

/// The outcome as a client gets it: the rejection's message in one language, plus where the
/// log stands and whether this was a retry.
#[derive(Serialize)]
struct Presented<'a> {
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    events: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rejection: Option<PresentedRejection<'a>>,
    seq: u64,
    retried: bool,
}

#[derive(Serialize)]
struct PresentedRejection<'a> {
    #[serde(flatten)]
    rejection: &'a Rejection,
    message: &'a str,
}

fn present(submitted: &Submitted, lang: Lang) -> Result<(StatusCode, String), ApiError> {
    // An outcome the module wrote (or the store kept) that cannot be read is a defect: the
    // client learns it failed, never a guess at what it said.
    let told: Told = serde_json::from_str(&submitted.outcome).map_err(|e| {
        tracing::error!(error = %e, "the module's outcome is unreadable");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "module_failed", format!("an unreadable outcome: {e}"))
    })?;
    let retried = if submitted.retried { "true" } else { "false" };
    let code = told.rejection.as_ref().map(|r| r.rejection.code());
    let status = code.map_or(StatusCode::OK, |c| status_of(c.category()));
    metrics::counter!("agentstate_commands_total",
        "outcome" => if code.is_some() { "rejected" } else { "accepted" },
        "code" => code.map_or("", RejectionCode::as_str), "retried" => retried)
    .increment(1);
    let message = told.rejection.as_ref().map(|r| match lang {
        Lang::En => r.message.en.as_str(),
        Lang::De => r.message.de.as_str(),
    });
    let presented = Presented {
        outcome: if code.is_some() { "rejected" } else { "accepted" },
        events: told.events,
        rejection: told
            .rejection
            .as_ref()
            .zip(message)
            .map(|(r, message)| PresentedRejection { rejection: &r.rejection, message }),
        seq: submitted.seq,
        retried: submitted.retried,
    };
    Ok((status, serde_json::to_string(&presented).unwrap_or_default()))
}

/// `POST /api/tenants/{tenant}/commands`: one command (an object) or a batch (an array).
pub async fn post_commands(
    State(app): State<App>,
    Path(tenant): Path<String>,
    Query(param): Query<LangParam>,
    headers: HeaderMap,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    caller.of(&tenant)?;
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", format!("{e}; send fewer commands"))
        } else {
            ApiError::bad_request("unreadable_body", e.to_string())
        }
    })?;
    let lang = lang(&headers, &param);
    let Commands { batch, commands } = commands_of(&body, &caller.actor)?;
    let results = app.shared.writer.submit(tenant, commands).await?;
    let failed = results.iter().filter(|r| r.is_err()).count();
    if failed > 0 {
        metrics::counter!("agentstate_commands_failed_total").increment(failed as u64);
    }
    if !batch {
        let submitted = results.into_iter().next().ok_or_else(ApiError::shutting_down)??;
        let (status, body) = present(&submitted, lang)?;
        return Ok((status, json_response(body)).into_response());
    }
    let mut seq = 0;
    let mut body = String::from("{\"results\":[");
    for (i, result) in results.into_iter().enumerate() {
        let submitted = result?;
        seq = seq.max(submitted.seq);
        if i > 0 {
            body.push(',');
        }
        body.push_str(&present(&submitted, lang)?.1);
    }
    body.push_str(&format!("],\"seq\":{seq}}}"));
    Ok(json_response(body))
}

/// Asks the tenant's module a view query, stamped with the server's time when `timed`.
async fn view(app: &App, tenant: String, mut query: Map<String, Value>, timed: bool) -> Result<String, ApiError> {
    let answer = app
        .shared
        .writer
        .run(move |desk| {
            if timed {
                query.insert("at".into(), json!(desk.now(&tenant)?));
            }
            desk.service.query(&tenant, &Value::Object(query).to_string())
        })
        .await??;
    Ok(answer)
}

fn json_response(answer: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], answer).into_response()
}

fn query_of(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

/// `GET /api/tenants/{tenant}/channels/{channel}/roster`
pub async fn roster(
    State(app): State<App>,
    Path((tenant, channel)): Path<(String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    channel_view(app, tenant, channel, caller, "roster").await
}

/// `GET /api/tenants/{tenant}/channels/{channel}/states`: time in state, now.
pub async fn channel_states(
    State(app): State<App>,
    Path((tenant, channel)): Path<(String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    channel_view(app, tenant, channel, caller, "channel_states").await
}

async fn channel_view(
    app: App,
    tenant: String,
    channel: String,
    caller: Caller,
    name: &str,
) -> Result<Response, ApiError> {
    caller.of(&tenant)?;
    let query = query_of(&[("view", json!(name)), ("channel", json!(channel))]);
    let answer = view(&app, tenant, query, true).await?;
    if answer == "null" {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "unknown_channel", format!("there is no channel {channel}")));
    }
    Ok(json_response(answer))
}

#[derive(Debug, Deserialize)]
pub struct ChannelParam {
    channel: Option<String>,
}

/// `GET /api/tenants/{tenant}/users/{user}/allowed-actions?channel=` — for the caller.
pub async fn allowed_actions(
    State(app): State<App>,
    Path((tenant, user)): Path<(String, String)>,
    Query(param): Query<ChannelParam>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.of(&tenant)?;
    let query = query_of(&[
        ("view", json!("allowed_actions")),
        ("actor", json!(caller.actor)),
        ("user", json!(user)),
        ("channel", json!(param.channel)),
    ]);
    view(&app, tenant, query, true).await.map(json_response)
}

#[derive(Debug, Deserialize)]
pub struct SearchParam {
    #[serde(default)]
    search: String,
    /// Comma-separated roles, every one of which a match must have.
    #[serde(default)]
    roles: String,
}

/// `GET /api/tenants/{tenant}/users?search=muller&roles=agent` — the "+ Log agent" picker.
pub async fn search_users(
    State(app): State<App>,
    Path(tenant): Path<String>,
    Query(param): Query<SearchParam>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.of(&tenant)?;
    let roles: Vec<&str> = param.roles.split(',').map(str::trim).filter(|r| !r.is_empty()).collect();
    let query = query_of(&[("view", json!("search_users")), ("text", json!(param.search)), ("roles", json!(roles))]);
    view(&app, tenant, query, false).await.map(json_response)
}

/// `GET /api/tenants/{tenant}/lingering-unassigned`
pub async fn lingering_unassigned(
    State(app): State<App>,
    Path(tenant): Path<String>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.of(&tenant)?;
    view(&app, tenant, query_of(&[("view", json!("lingering_unassigned"))]), false).await.map(json_response)
}

/// `GET /api/tenants/{tenant}/users/{user}/history` — from the whole stored log.
pub async fn history(
    State(app): State<App>,
    Path((tenant, user)): Path<(String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.of(&tenant)?;
    let answer = app.shared.writer.run(move |desk| desk.service.history(&tenant, &user)).await??;
    Ok(json_response(answer))
}

/// `GET /api/tenants/{tenant}/snapshot` — `{"seq": N, "state": …}`: the state as of event
/// N, for a dashboard that mirrors the tenant and follows `/events?after=N`.
pub async fn snapshot(
    State(app): State<App>,
    Path(tenant): Path<String>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.of(&tenant)?;
    let (seq, state) = app.shared.writer.run(move |desk| desk.service.snapshot(&tenant)).await??;
    Ok(json_response(format!(r#"{{"seq":{seq},"state":{state}}}"#)))
}

#[derive(Debug, Deserialize)]
pub struct RangeParam {
    /// Milliseconds since the epoch, like `at`.
    from: u64,
    to: u64,
    /// `json` (the default) or `csv`.
    format: Option<String>,
}

/// `GET /api/tenants/{tenant}/reports/activity?from=&to=[&format=csv]` — each agent's
/// states per channel in the range, with totals (the day at a glance).
pub async fn activity_report(
    State(app): State<App>,
    Path(tenant): Path<String>,
    Query(range): Query<RangeParam>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.of(&tenant)?;
    if range.to < range.from {
        return Err(ApiError::bad_request("invalid_range", "`to` is before `from`"));
    }
    let csv = match range.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::bad_request("invalid_format", format!("format {other:?}: json or csv")));
        }
    };
    let (from, to) = (range.from, range.to);
    let answer = app.shared.writer.run(move |desk| desk.service.activity(&tenant, from, to)).await??;
    if !csv {
        return Ok(json_response(answer));
    }
    let report: agentstate_core::views::ActivityReport = serde_json::from_str(&answer)
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "module_failed", e.to_string()))?;
    let text = crate::reports::activity_csv(&report)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "report_failed", e))?;
    let disposition = format!("attachment; filename=\"activity-{from}-{to}.csv\"");
    Ok((
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, disposition)],
        text,
    )
        .into_response())
}

/// `GET /api/me` — who the token speaks for.
pub async fn me(caller: Caller) -> Json<Value> {
    Json(json!({ "tenant": caller.tenant, "actor": caller.actor }))
}
