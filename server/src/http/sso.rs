//! Single sign-on's routes: the sign-in page asks what a tenant offers
//! (`GET /api/signin/{tenant}`), `/signin/{tenant}/start` sends the browser to the tenant's
//! identity provider, and `/signin/{tenant}/callback` takes it back and opens the same
//! session a token or link opens. An admin reads the tenant's settings, without the secret
//! (`GET /api/tenants/{tenant}/sso`). The flow's checks are `crate::sso`'s.
//!
//! Two pages are the browser's, not a script's: a refusal is a page that says what to do
//! (in English or German, as the browser asks), with the status that fits and a stable
//! code in `main#refusal[data-code]`; it changes nothing.
//!
//! Login CSRF: the start sets a cookie of its own (`agentstate_sso`, `SameSite=Lax`, so
//! that it comes along on the provider's redirect back), and the sign-in under way is
//! bound to its hash. A callback with a `state` this browser did not begin — an attacker's
//! own, handed to a victim — finds no sign-in of this browser and opens nothing.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use serde::Serialize;

use super::App;
use super::answers::ErrorBody;
use super::auth::{Caller, Credential, cookie_named};
use super::errors::{ApiError, Failure};
use super::openapi::TenantPath;
use super::session::{address_key, cookie, limit, set_cookie};
use crate::sessions::{self, Credential as SignInWith};
use crate::sso::SsoError;
use crate::store::SsoProvider;
use crate::tokens;
use agentstate_core::{Actor, Role};

/// The cookie that binds a sign-in under way to the browser that began it.
const SSO_COOKIE: &str = "agentstate_sso";

/// What a tenant's sign-in page offers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SsoOffer {
    pub tenant: String,
    /// "Sign in with <name>".
    pub name: String,
    /// Where the button leads.
    pub start: String,
}

/// The tenant's single sign-on as its admin sees it: never the client secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SsoSettings {
    /// Whether the tenant has single sign-on; the rest is absent when not.
    pub configured: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The ID-token claim whose value is the user id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claim: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    /// The sign-in page to give the tenant's people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sign_in_page: Option<String>,
}

/// Whether the tenant's sign-in page offers single sign-on, and with what.
#[utoipa::path(get, path = "/signin/{tenant}", tag = "session", security(()), params(TenantPath),
    responses(
        (status = 200, description = "The tenant offers single sign-on", body = SsoOffer),
        (status = 404, description = "No such tenant, or one without single sign-on (`unknown_tenant`)", body = ErrorBody),
        (status = 429, description = "Too many sign-ins from this address (`rate_limited`)", body = ErrorBody),
        (status = 503, description = "The store failed", body = ErrorBody),
    ))]
pub async fn offer(
    State(app): State<App>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Path(TenantPath { tenant }): Path<TenantPath>,
) -> Result<Json<SsoOffer>, ApiError> {
    // Anyone may ask, and each asks the store: a budget of its own per address (not the
    // sign-ins', which a flood of these would otherwise spend for everyone behind it).
    limit(&app.shared.offers_by_address, &address_key(client.ip()), "sign-in pages from this address")?;
    let provider = app.shared.writer.sso_provider(tenant.clone()).await?;
    let provider = provider.ok_or_else(|| ApiError::UnknownTenant(tenant.clone()))?;
    Ok(Json(SsoOffer { start: format!("/signin/{tenant}/start"), tenant, name: provider.name }))
}

/// The tenant's single sign-on settings, for its admins.
#[utoipa::path(get, path = "/tenants/{tenant}/sso", tag = "session", params(TenantPath),
    responses(
        (status = 200, description = "The settings, without the client secret", body = SsoSettings),
        (status = 403, description = "The caller is not an admin of the tenant (`admins_only`)", body = ErrorBody),
        (status = 404, description = "Not this token's tenant", body = ErrorBody),
        (status = 503, description = "The store failed", body = ErrorBody),
    ))]
pub async fn settings(
    State(app): State<App>,
    Path(TenantPath { tenant }): Path<TenantPath>,
    caller: Caller,
) -> Result<Json<SsoSettings>, ApiError> {
    let state = app.shared.reads.state(&tenant).await?;
    let admin = match &caller.actor {
        Actor::User(user) => state.1.user(user).is_some_and(|u| u.roles.has(Role::Admin)),
        Actor::System => false,
    };
    if !admin {
        return Err(ApiError::AdminsOnly);
    }
    let settings = match app.shared.writer.sso_provider(tenant.clone()).await? {
        None => SsoSettings {
            configured: false,
            name: None,
            issuer: None,
            client_id: None,
            claim: None,
            redirect_uri: None,
            sign_in_page: None,
        },
        Some(SsoProvider { issuer, client_id, client_secret: _, redirect_uri, claim, name }) => SsoSettings {
            configured: true,
            sign_in_page: Some(format!("/signin/{tenant}")),
            name: Some(name),
            issuer: Some(issuer),
            client_id: Some(client_id),
            claim: Some(claim),
            redirect_uri: Some(redirect_uri),
        },
    };
    Ok(Json(settings))
}

/// `GET /signin/{tenant}/start`: to the tenant's identity provider.
pub async fn start(
    State(app): State<App>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::of(&headers);
    begin(&app, client, &tenant, &headers).await.unwrap_or_else(|refusal| refusal.page(lang, &tenant))
}

async fn begin(app: &App, client: SocketAddr, tenant: &str, headers: &HeaderMap) -> Result<Response, Refusal> {
    limit(&app.shared.sign_ins_by_address, &address_key(client.ip()), "sign-ins from this address")
        .map_err(Refusal::from)?;
    let provider = app.shared.writer.sso_provider(tenant.to_owned()).await.map_err(ApiError::from)?;
    let provider = provider.ok_or(Refusal::NotConfigured)?;
    let binding = tokens::secret("").map_err(|e| ApiError::internal(Failure::Server, &e))?;
    let began = app
        .shared
        .providers
        .begin(tenant, &provider, tokens::hash(&binding), crate::clock::now_ms())
        .await
        .map_err(|e| Refusal::from_provider(tenant, e))?;
    let recorded = app.shared.writer.begin_sso(tokens::hash(&began.state), began.sign_in).await;
    if !recorded.map_err(ApiError::from)? {
        return Err(Refusal::Busy);
    }
    let max_age = crate::sso::SIGN_IN_TTL_MS / 1000;
    let bind = sso_cookie(headers, &binding, max_age)?;
    let location =
        HeaderValue::from_str(began.authorize_url.as_str()).map_err(|e| ApiError::internal(Failure::Server, &e))?;
    Ok((StatusCode::SEE_OTHER, [(LOCATION, location), (SET_COOKIE, bind), no_store()]).into_response())
}

/// What the provider sends the browser back with.
#[derive(Debug, Default)]
pub struct Returned {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
    /// The provider that answered (RFC 9207), when it says: it must be the tenant's.
    iss: Option<String>,
}

impl Returned {
    /// The query's parameters; `None` when one of them comes twice (which would count?).
    fn parse(query: Option<&str>) -> Option<Returned> {
        let mut returned = Returned::default();
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let slot = match &*key {
                "state" => &mut returned.state,
                "code" => &mut returned.code,
                "error" => &mut returned.error,
                "iss" => &mut returned.iss,
                _ => continue,
            };
            if slot.replace(value.into_owned()).is_some() {
                return None;
            }
        }
        Some(returned)
    }
}

/// `GET /signin/{tenant}/callback`: back from the provider; the session, or a refusal.
pub async fn callback(
    State(app): State<App>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Path(tenant): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::of(&headers);
    let finished = match Returned::parse(query.as_deref()) {
        Some(returned) => finish(&app, client, &tenant, returned, &headers).await,
        None => Err(Refusal::StateUnknown),
    };
    let mut response = finished.unwrap_or_else(|refusal| refusal.page(lang, &tenant));
    // Whatever happened, the sign-in under way is over (its state is used up).
    if let Ok(forget) = sso_cookie(&headers, "", 0) {
        response.headers_mut().append(SET_COOKIE, forget);
    }
    response
}

async fn finish(
    app: &App,
    client: SocketAddr,
    tenant: &str,
    returned: Returned,
    headers: &HeaderMap,
) -> Result<Response, Refusal> {
    limit(&app.shared.sign_ins_by_address, &address_key(client.ip()), "sign-ins from this address")
        .map_err(Refusal::from)?;
    let state = returned.state.filter(|s| !s.is_empty() && s.len() <= 512).ok_or(Refusal::StateUnknown)?;
    let binding = cookie_named(headers, SSO_COOKIE).ok_or(Refusal::StateUnknown)?;
    let sign_in = app.shared.writer.take_sso(tokens::hash(&state)).await.map_err(ApiError::from)?;
    // Begun for this tenant, in this browser; else it is someone else's (or nobody's).
    let sign_in =
        sign_in.filter(|s| s.tenant == tenant && s.browser == tokens::hash(&binding)).ok_or(Refusal::StateUnknown)?;
    if let Some(error) = returned.error {
        return Err(Refusal::ProviderRefused(error));
    }
    let code = returned.code.filter(|c| !c.is_empty() && c.len() <= 4096).ok_or(Refusal::StateUnknown)?;
    let provider = app.shared.writer.sso_provider(tenant.to_owned()).await.map_err(ApiError::from)?;
    let provider = provider.ok_or(Refusal::NotConfigured)?;
    if let Some(iss) = returned.iss
        && iss.trim_end_matches('/') != provider.issuer.trim_end_matches('/')
    {
        // Another provider's answer (a mix-up): its code is not redeemed here.
        return Err(Refusal::from_provider(tenant, SsoError::TokenInvalid(format!("answered by issuer {iss:?}"))));
    }
    let named = app.shared.providers.finish(&provider, &sign_in, code).await;
    let named = named.map_err(|e| Refusal::from_provider(tenant, e))?;
    let folds_case = crate::sso::Claim::parse(&provider.claim).is_some_and(crate::sso::Claim::folds_case);
    let user = user_named(app, tenant, &named, folds_case).await?.ok_or(Refusal::UnknownPerson(named))?;
    // A person's sign-ins are limited like a token's.
    let person = format!("sso\u{0}{tenant}\u{0}{user}");
    limit(&app.shared.sign_ins_by_token, &person, "sign-ins of this person").map_err(Refusal::from)?;
    let credential = SignInWith::SingleSignOn { tenant: tenant.to_owned(), user };
    let opened = app.shared.writer.open_session(credential).await.map_err(ApiError::from)?;
    let opened = opened.ok_or_else(|| ApiError::internal(Failure::Server, &"a session for single sign-on"))?;
    for ended in &opened.ended {
        app.forget(&Credential::Session(ended.clone()));
    }
    tracing::info!(tenant, actor = %opened.grant.actor, "signed in with single sign-on");
    let session = cookie(headers, &opened.secret, sessions::SESSION_TTL_MS / 1000)?;
    Ok((StatusCode::SEE_OTHER, [(LOCATION, HeaderValue::from_static("/")), (SET_COOKIE, session), no_store()])
        .into_response())
}

/// The tenant's user the claim's value names: that id exactly, else — for a claim whose
/// values name the same person in any letter case (addresses, user names: providers spell
/// them as they were typed) — the one user whose id differs from it in case only.
async fn user_named(app: &App, tenant: &str, named: &str, folds_case: bool) -> Result<Option<String>, Refusal> {
    let state = app.shared.reads.state(tenant).await.map_err(ApiError::from)?;
    let state = &state.1;
    if named == Actor::SYSTEM {
        return Ok(None);
    }
    if state.user(named).is_some() {
        return Ok(Some(named.to_owned()));
    }
    if !folds_case {
        return Ok(None);
    }
    let mut alike = state.users().filter(|(id, _)| id.eq_ignore_ascii_case(named)).map(|(id, _)| id.to_string());
    Ok(match (alike.next(), alike.next()) {
        (Some(one), None) => Some(one),
        _ => None,
    })
}

/// The binding cookie: `SameSite=Lax` (it must come along on the provider's redirect, a
/// top-level navigation from another site), only to `/signin`, for ten minutes.
fn sso_cookie(headers: &HeaderMap, value: &str, max_age_secs: u64) -> Result<HeaderValue, ApiError> {
    set_cookie(headers, (SSO_COOKIE, value), "/signin", cookie::SameSite::Lax, max_age_secs)
}

fn no_store() -> (axum::http::HeaderName, HeaderValue) {
    (CACHE_CONTROL, HeaderValue::from_static("no-store"))
}

/// Why single sign-on opened no session: each a page that says what to do.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("single sign-on is not set up for this contact center")]
    NotConfigured,
    #[error("too many sign-ins")]
    RateLimited(Duration),
    #[error("too many sign-ins are under way")]
    Busy,
    #[error("this sign-in was not begun in this browser, was used already, or took too long")]
    StateUnknown,
    #[error("the sign-in service refused: {0}")]
    ProviderRefused(String),
    #[error("the sign-in service's answer failed a check")]
    TokenInvalid,
    #[error("the sign-in service cannot be reached")]
    ProviderUnreachable,
    #[error("{0} is not a user of this contact center")]
    UnknownPerson(String),
    #[error(transparent)]
    Api(ApiError),
}

impl Refusal {
    /// A provider's failure, logged in full (the operator's to read) and said plainly.
    fn from_provider(tenant: &str, error: SsoError) -> Refusal {
        tracing::warn!(tenant, %error, "single sign-on refused");
        match error {
            SsoError::Unreachable(_) => Refusal::ProviderUnreachable,
            SsoError::Refused(why) => Refusal::ProviderRefused(why),
            SsoError::TokenInvalid(_) | SsoError::NoClaim(_) => Refusal::TokenInvalid,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Refusal::NotConfigured => "not_configured",
            Refusal::RateLimited(_) => "rate_limited",
            Refusal::Busy => "busy",
            Refusal::StateUnknown => "state_unknown",
            Refusal::ProviderRefused(_) => "provider_refused",
            Refusal::TokenInvalid => "token_invalid",
            Refusal::ProviderUnreachable => "provider_unreachable",
            Refusal::UnknownPerson(_) => "unknown_person",
            Refusal::Api(e) => e.code(),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Refusal::NotConfigured => StatusCode::NOT_FOUND,
            Refusal::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Refusal::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::StateUnknown => StatusCode::BAD_REQUEST,
            Refusal::ProviderRefused(_) | Refusal::TokenInvalid => StatusCode::UNAUTHORIZED,
            Refusal::ProviderUnreachable => StatusCode::BAD_GATEWAY,
            Refusal::UnknownPerson(_) => StatusCode::FORBIDDEN,
            Refusal::Api(e) => e.status(),
        }
    }

    /// What the person reads: a title and what to do.
    fn words(&self, lang: Lang) -> (&'static str, String) {
        let de = lang == Lang::De;
        match self {
            Refusal::NotConfigured => pick(
                de,
                ("Keine Anmeldung mit Firmenkonto", "Für dieses Contact Center ist keine Anmeldung mit dem Firmenkonto eingerichtet. Fragen Sie Ihren Administrator nach Ihrem Anmeldelink.".into()),
                ("No company sign-in here", "Signing in with a company account is not set up for this contact center. Ask your admin for your sign-in link.".into()),
            ),
            Refusal::RateLimited(wait) => pick(
                de,
                ("Zu viele Anmeldungen", format!("Von hier kamen gerade zu viele Anmeldungen. Versuchen Sie es in {} s noch einmal.", wait.as_secs().max(1))),
                ("Too many sign-ins", format!("Too many sign-ins came from here just now. Try again in {} s.", wait.as_secs().max(1))),
            ),
            Refusal::Busy => pick(
                de,
                ("Gerade nicht möglich", "Gerade sind zu viele Anmeldungen unterwegs. Versuchen Sie es in ein paar Minuten noch einmal.".into()),
                ("Not possible right now", "Too many sign-ins are under way right now. Try again in a few minutes.".into()),
            ),
            Refusal::StateUnknown => pick(
                de,
                ("Anmeldung abgelaufen", "Diese Anmeldung wurde nicht in diesem Browser begonnen, war schon benutzt oder hat länger als zehn Minuten gedauert. Beginnen Sie sie noch einmal.".into()),
                ("Sign-in expired", "This sign-in was not begun in this browser, was used already, or took longer than ten minutes. Start it again.".into()),
            ),
            Refusal::ProviderRefused(_) => pick(
                de,
                ("Anmeldedienst lehnt ab", "Der Anmeldedienst Ihres Unternehmens hat die Anmeldung nicht bestätigt. Beginnen Sie sie noch einmal; geschieht es wieder, fragen Sie Ihren Administrator.".into()),
                ("Sign-in refused", "Your company's sign-in service did not confirm the sign-in. Start it again; if it happens again, ask your admin.".into()),
            ),
            Refusal::TokenInvalid => pick(
                de,
                ("Anmeldung nicht bestätigt", "Die Antwort des Anmeldedienstes hat eine Prüfung nicht bestanden. Fragen Sie Ihren Administrator.".into()),
                ("Sign-in not confirmed", "The sign-in service's answer failed a check. Ask your admin.".into()),
            ),
            Refusal::ProviderUnreachable => pick(
                de,
                ("Anmeldedienst nicht erreichbar", "Der Anmeldedienst Ihres Unternehmens ist gerade nicht erreichbar oder hat nicht wie erwartet geantwortet. Versuchen Sie es in ein paar Minuten noch einmal; geschieht es wieder, fragen Sie Ihren Administrator.".into()),
                ("Sign-in service unreachable", "Your company's sign-in service cannot be reached right now, or did not answer as it should. Try again in a few minutes; if it happens again, ask your admin.".into()),
            ),
            Refusal::UnknownPerson(named) => pick(
                de,
                ("Kein Benutzer hier", format!("Ihr Firmenkonto ({named}) ist kein Benutzer dieses Contact Centers — fragen Sie Ihren Administrator.")),
                ("Not a user here", format!("Your company account ({named}) is not a user of this contact center — ask your admin.")),
            ),
            Refusal::Api(e) => pick(
                de,
                ("Anmeldung fehlgeschlagen", format!("Die Anmeldung ist fehlgeschlagen: {e}")),
                ("Sign-in failed", format!("The sign-in failed: {e}")),
            ),
        }
    }

    /// The refusal as a page, with a way to start again.
    fn page(self, lang: Lang, tenant: &str) -> Response {
        let (title, text) = self.words(lang);
        let again = if lang == Lang::De { "Noch einmal anmelden" } else { "Sign in again" };
        let html = format!(
            "<!doctype html>\n<html lang=\"{lang}\">\n<head><meta charset=\"utf-8\"><meta name=\"viewport\" \
             content=\"width=device-width, initial-scale=1\"><meta name=\"referrer\" content=\"no-referrer\">\
             <title>agentstate — {title}</title><link rel=\"stylesheet\" href=\"/style.css\"></head>\n\
             <body class=\"signin\"><main id=\"refusal\" class=\"panel\" data-code=\"{code}\"><h1>{title}</h1>\
             <p>{text}</p><p><a href=\"/signin/{tenant}\">{again}</a></p></main></body>\n</html>\n",
            lang = if lang == Lang::De { "de" } else { "en" },
            code = self.code(),
            // The claim's value and the tenant come from outside.
            text = html_escape::encode_text(&text),
            tenant = html_escape::encode_double_quoted_attribute(&percent(tenant)),
        );
        let mut headers = vec![(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")), no_store()];
        if let Refusal::RateLimited(wait) = &self {
            headers.push((RETRY_AFTER, HeaderValue::from(wait.as_secs().max(1))));
        }
        let status = self.status();
        let mut response = (status, html).into_response();
        for (name, value) in headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Refusal {
        match e {
            ApiError::RateLimited { wait, .. } => Refusal::RateLimited(wait),
            other => Refusal::Api(other),
        }
    }
}

fn pick(de: bool, german: (&'static str, String), english: (&'static str, String)) -> (&'static str, String) {
    if de { german } else { english }
}

/// The page's language: German when the browser puts it first, else English.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lang {
    En,
    De,
}

impl Lang {
    fn of(headers: &HeaderMap) -> Lang {
        let first = headers.get(axum::http::header::ACCEPT_LANGUAGE).and_then(|h| h.to_str().ok()).unwrap_or("");
        if first.trim_start().get(..2).is_some_and(|l| l.eq_ignore_ascii_case("de")) { Lang::De } else { Lang::En }
    }
}

/// A path segment for a link: everything but unreserved characters percent-encoded.
fn percent(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect::<String>().replace('+', "%20")
}
