//! The JSON API: commands in, outcomes out; views as the module answers them.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::App;
use super::auth::Caller;
use super::errors::ApiError;
use super::writer::Incoming;
use crate::service::Submitted;

/// Most commands in one request.
pub const MAX_BATCH: usize = 1000;

#[derive(Debug, Default, Deserialize)]
pub struct LangParam {
    lang: Option<String>,
}

/// The language of messages: `?lang=`, else the first tag of `Accept-Language`.
fn lang(headers: &HeaderMap, param: &LangParam) -> &'static str {
    let tag = param
        .lang
        .clone()
        .or_else(|| headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).map(|v| v.trim().to_owned()));
    if tag.is_some_and(|t| t.to_ascii_lowercase().starts_with("de")) { "de" } else { "en" }
}

/// How a rejection code maps onto HTTP.
fn status_of(code: &str) -> StatusCode {
    match code {
        "invalid_command" => StatusCode::BAD_REQUEST,
        "unknown_actor"
        | "not_authorized"
        | "no_agent_dashboard"
        | "plan_not_eligible"
        | "outside_supervisor_scope"
        | "cannot_monitor_self" => StatusCode::FORBIDDEN,
        "unknown_user" | "unknown_channel" | "unknown_device" | "unknown_interaction" => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        _ => StatusCode::CONFLICT,
    }
}

/// The outcome as a client gets it: the rejection's message in `lang`, plus where the
/// log stands and whether this was a retry.
fn present(submitted: &Submitted, lang: &str) -> (StatusCode, Value) {
    let mut outcome: Value = serde_json::from_str(&submitted.outcome).unwrap_or(Value::Null);
    let retried = if submitted.retried { "true" } else { "false" };
    let code = outcome.pointer("/rejection/code").and_then(Value::as_str).map(str::to_owned);
    let status = code.as_deref().map_or(StatusCode::OK, status_of);
    let told = if code.is_some() { "rejected" } else { "accepted" };
    metrics::counter!("agentstate_commands_total", "outcome" => told, "code" => code.unwrap_or_default(),
        "retried" => retried)
    .increment(1);
    if let Some(rejection) = outcome.get_mut("rejection").and_then(Value::as_object_mut) {
        let message = rejection.get("message").and_then(|m| m.get(lang)).cloned().unwrap_or(Value::Null);
        rejection.insert("message".into(), message);
    }
    if let Some(fields) = outcome.as_object_mut() {
        fields.insert("seq".into(), json!(submitted.seq));
        fields.insert("retried".into(), json!(submitted.retried));
    }
    (status, outcome)
}

fn incoming(caller: &Caller, value: Value) -> Result<Incoming, ApiError> {
    let Value::Object(mut fields) = value else { return Ok(Incoming::Text(value.to_string())) };
    match fields.get("actor") {
        None => {
            fields.insert("actor".into(), Value::String(caller.actor.clone()));
        }
        Some(Value::String(actor)) if *actor == caller.actor => {}
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "actor_mismatch",
                format!("this token acts as {}; a command cannot name actor {other}", caller.actor),
            ));
        }
    }
    if fields.contains_key("at") {
        return Err(ApiError::bad_request(
            "at_not_allowed",
            "`at` is set by the server's clock; leave it out of the command",
        ));
    }
    Ok(Incoming::Object(fields))
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
    let (batch, commands) = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Array(items)) => {
            if items.len() > MAX_BATCH {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "batch_too_large",
                    format!("{} commands in one batch; at most {MAX_BATCH}", items.len()),
                ));
            }
            (true, items.into_iter().map(|item| incoming(&caller, item)).collect::<Result<Vec<_>, _>>()?)
        }
        Ok(value) => (false, vec![incoming(&caller, value)?]),
        // Not JSON: the module says precisely where (line, column) and what.
        Err(_) => (false, vec![Incoming::Text(String::from_utf8_lossy(&body).into_owned())]),
    };
    let results = app.shared.writer.submit(tenant, commands).await?;
    let failed = results.iter().filter(|r| r.is_err()).count();
    if failed > 0 {
        metrics::counter!("agentstate_commands_failed_total").increment(failed as u64);
    }
    if !batch {
        let submitted = results.into_iter().next().ok_or_else(ApiError::shutting_down)??;
        let (status, body) = present(&submitted, lang);
        return Ok((status, Json(body)).into_response());
    }
    let mut seq = 0;
    let mut presented = Vec::with_capacity(results.len());
    for result in results {
        let submitted = result?;
        seq = seq.max(submitted.seq);
        presented.push(present(&submitted, lang).1);
    }
    Ok(Json(json!({ "results": presented, "seq": seq })).into_response())
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
    checked(answer)
}

/// The module answers a query it cannot read with `{"error": …}`.
fn checked(answer: String) -> Result<String, ApiError> {
    if answer.starts_with(r#"{"error":"#) {
        let problem: Value = serde_json::from_str(&answer).unwrap_or(Value::Null);
        let message = problem.get("error").and_then(Value::as_str).unwrap_or("not a view query").to_owned();
        return Err(ApiError::bad_request("invalid_query", message));
    }
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
    checked(answer).map(json_response)
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
    let answer = checked(app.shared.writer.run(move |desk| desk.service.activity(&tenant, from, to)).await??)?;
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
