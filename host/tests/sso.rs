//! Single sign-on against a real `agentstate serve`, with an OpenID Provider this test
//! drives by hand: it serves discovery, keys and a token endpoint (PKCE and client secret
//! checked, each code good once), and the test decides what ID token each code redeems —
//! a good one, or one that is expired, for another audience or issuer, signed by a forger,
//! with another nonce. (The browser test signs in through a certified provider,
//! `oidc-provider`, in Chromium: web-demo/tests/sso.mjs.) Every refusal is a page with
//! its code that opens no session and makes no token.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use common::{Data, Server, start};
use openidconnect::core::{
    CoreIdToken, CoreIdTokenClaims, CoreJsonWebKeySet, CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey,
};
use openidconnect::{
    Audience, EmptyAdditionalClaims, EndUserEmail, EndUserUsername, IssuerUrl, JsonWebKeyId, Nonce, PrivateSigningKey,
    StandardClaims, SubjectIdentifier,
};
use serde_json::{Value, json};
use sha2::Digest;

const PROVIDER_KEY: &str = include_str!("fixtures/sso-provider-key.pem");
const FORGER_KEY: &str = include_str!("fixtures/sso-forger-key.pem");
const CLIENT_ID: &str = "agentstate-test";
const CLIENT_SECRET: &str = "s3cret-of-the-client";

/// What the token endpoint gives for a code.
struct Grant {
    challenge: String,
    id_token: String,
}

#[derive(Default)]
struct Provider {
    grants: HashMap<String, Grant>,
    /// The keys `jwks_uri` lists.
    keys: Vec<(String, &'static str)>,
    token_requests: usize,
    /// A hostile provider's ways: an authorization endpoint of its choosing, a token
    /// response of this many bytes.
    authorize_at: Option<String>,
    answer_bytes: Option<usize>,
}

/// A provider on a loopback port: `issuer`, and what it will answer.
#[derive(Clone)]
struct Idp {
    issuer: String,
    state: Arc<Mutex<Provider>>,
}

fn key(pem: &str, kid: &str) -> CoreRsaPrivateSigningKey {
    CoreRsaPrivateSigningKey::from_pem(pem, Some(JsonWebKeyId::new(kid.to_owned()))).expect("an RSA key")
}

impl Idp {
    async fn start() -> Idp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let issuer = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(Provider { keys: vec![("k1".into(), PROVIDER_KEY)], ..Provider::default() }));
        let idp = Idp { issuer, state };
        let app = axum::Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/token", post(token))
            .with_state(idp.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        idp
    }

    /// An ID token as this provider would sign it for `nonce`, changed by `change`.
    fn id_token(&self, nonce: &str, email: &str, change: impl FnOnce(&mut Token)) -> String {
        let now = chrono::Utc::now();
        let mut token = Token {
            issuer: self.issuer.clone(),
            audience: CLIENT_ID.to_owned(),
            issued: now,
            expires: now + chrono::Duration::minutes(5),
            nonce: nonce.to_owned(),
            email: email.to_owned(),
            verified: Some(true),
            pem: PROVIDER_KEY,
            kid: "k1".to_owned(),
        };
        change(&mut token);
        let claims = CoreIdTokenClaims::new(
            IssuerUrl::new(token.issuer).expect("issuer"),
            vec![Audience::new(token.audience)],
            token.expires,
            token.issued,
            StandardClaims::new(SubjectIdentifier::new(format!("sub-{}", token.email)))
                .set_email(Some(EndUserEmail::new(token.email.clone())))
                .set_email_verified(token.verified)
                .set_preferred_username(Some(EndUserUsername::new(token.email))),
            EmptyAdditionalClaims {},
        )
        .set_nonce(Some(Nonce::new(token.nonce)));
        let signer = key(token.pem, &token.kid);
        let jwt = CoreIdToken::new(claims, &signer, CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, None, None);
        jwt.expect("signs").to_string()
    }

    /// `code` will redeem `id_token` (once, with the verifier of `challenge`).
    fn grant(&self, code: &str, challenge: &str, id_token: String) {
        let grant = Grant { challenge: challenge.to_owned(), id_token };
        self.state.lock().expect("lock").grants.insert(code.to_owned(), grant);
    }
}

/// What an ID token says, before it is signed.
struct Token {
    issuer: String,
    audience: String,
    issued: chrono::DateTime<chrono::Utc>,
    expires: chrono::DateTime<chrono::Utc>,
    nonce: String,
    email: String,
    verified: Option<bool>,
    pem: &'static str,
    kid: String,
}

async fn discovery(State(idp): State<Idp>) -> axum::Json<Value> {
    let issuer = &idp.issuer;
    let authorize = idp.state.lock().expect("lock").authorize_at.clone();
    axum::Json(json!({
        "issuer": issuer,
        "authorization_endpoint": authorize.unwrap_or_else(|| format!("{issuer}/authorize")),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
}

async fn jwks(State(idp): State<Idp>) -> axum::Json<Value> {
    let keys = idp.state.lock().expect("lock").keys.clone();
    let set = CoreJsonWebKeySet::new(keys.iter().map(|(kid, pem)| key(pem, kid).as_verification_key()).collect());
    axum::Json(serde_json::to_value(set).expect("json"))
}

async fn token(State(idp): State<Idp>, headers: HeaderMap, body: String) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let refuse = |error: &str| (StatusCode::BAD_REQUEST, axum::Json(json!({"error": error}))).into_response();
    let basic = format!("Basic {}", base64(format!("{CLIENT_ID}:{CLIENT_SECRET}").as_bytes()));
    if headers.get("authorization").and_then(|h| h.to_str().ok()) != Some(basic.as_str()) {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "invalid_client"}))).into_response();
    }
    let mut provider = idp.state.lock().expect("lock");
    provider.token_requests += 1;
    if let Some(bytes) = provider.answer_bytes {
        return (StatusCode::OK, " ".repeat(bytes)).into_response();
    }
    // A code is good once, and only with the verifier of the challenge it was given for.
    let Some(grant) = form.get("code").and_then(|code| provider.grants.remove(code)) else {
        return refuse("invalid_grant");
    };
    let verifier = form.get("code_verifier").map(String::as_str).unwrap_or_default();
    if base64url(&sha2::Sha256::digest(verifier.as_bytes())) != grant.challenge {
        return refuse("invalid_grant");
    }
    axum::Json(json!({"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": grant.id_token}))
        .into_response()
}

fn base64(bytes: &[u8]) -> String {
    encode(bytes, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", true)
}

fn base64url(bytes: &[u8]) -> String {
    encode(bytes, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", false)
}

fn encode(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(alphabet[((n >> (18 - 6 * i)) & 63) as usize]));
        }
        if pad {
            out.push_str(&"=".repeat(3 - chunk.len()));
        }
    }
    out
}

/// Registers `idp` as `tenant`'s provider with the CLI (claim `email`, the default).
fn configure(data: &Data, server: &Server, tenant: &str, idp: &Idp) {
    let redirect = server.url(&format!("/signin/{tenant}/callback"));
    let out = data
        .agentstate()
        .args(["tenant", "sso", "set", tenant, "--issuer", &idp.issuer, "--client-id", CLIENT_ID])
        .args(["--client-secret-env", "SSO_SECRET", "--redirect-uri", &redirect, "--name", "Test IdP"])
        .env("SSO_SECRET", CLIENT_SECRET)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A sign-in begun by one browser: its binding cookie and what the provider was sent.
struct Begun {
    cookie: String,
    state: String,
    nonce: String,
    challenge: String,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

async fn begin(server: &Server, tenant: &str) -> Begun {
    let response = client().get(server.url(&format!("/signin/{tenant}/start"))).send().await.expect("starts");
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{:?}", response.text().await);
    let location = response.headers()["location"].to_str().expect("text").to_owned();
    let cookie = response.headers()["set-cookie"].to_str().expect("text").to_owned();
    assert!(cookie.starts_with("agentstate_sso=") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    let url = url::Url::parse(&location).expect("a URL");
    let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["client_id"], CLIENT_ID);
    assert_eq!(query["redirect_uri"], server.url(&format!("/signin/{tenant}/callback")));
    assert!(query["scope"].split(' ').any(|s| s == "openid"));
    Begun {
        cookie: cookie.split(';').next().expect("pair").to_owned(),
        state: query["state"].clone(),
        nonce: query["nonce"].clone(),
        challenge: query["code_challenge"].clone(),
    }
}

/// What a callback answered.
struct Answer {
    status: StatusCode,
    /// The session cookie it set, if any.
    session: Option<String>,
    location: Option<String>,
    body: String,
}

impl Answer {
    /// The refusal page's code.
    fn refused(&self) -> &str {
        let at = self.body.find("data-code=\"").map(|i| i + 11).unwrap_or_else(|| panic!("no refusal: {}", self.body));
        &self.body[at..at + self.body[at..].find('"').expect("closing quote")]
    }
}

async fn callback(server: &Server, tenant: &str, query: &[(&str, &str)], cookie: Option<&str>) -> Answer {
    let mut request = client().get(server.url(&format!("/signin/{tenant}/callback"))).query(query);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.expect("calls back");
    let status = response.status();
    let session = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|c| c.to_str().ok())
        .find(|c| c.starts_with("agentstate_session=") && !c.starts_with("agentstate_session=;"))
        .map(str::to_owned);
    let location = response.headers().get("location").map(|l| l.to_str().expect("text").to_owned());
    Answer { status, session, location, body: response.text().await.expect("body") }
}

/// Begins at `tenant`, has `idp` grant a code for the token `change` makes, and calls back.
async fn sign_in(server: &Server, tenant: &str, idp: &Idp, email: &str, change: impl FnOnce(&mut Token)) -> Answer {
    let begun = begin(server, tenant).await;
    let code = format!("code-{}", begun.state);
    idp.grant(&code, &begun.challenge, idp.id_token(&begun.nonce, email, change));
    callback(server, tenant, &[("code", &code), ("state", &begun.state)], Some(&begun.cookie)).await
}

async fn me(server: &Server, session: &str) -> (StatusCode, Value) {
    let pair = session.split(';').next().expect("pair");
    let response = client().get(server.url("/api/me")).header("cookie", pair).send().await.expect("gets");
    (response.status(), response.json().await.unwrap_or(Value::Null))
}

fn tokens_of(data: &Data, tenant: &str) -> String {
    agentstate_testkit::run(data.agentstate().args(["token", "list", "--tenant", tenant]))
}

#[tokio::test]
async fn a_person_signs_in_with_their_company_account_and_gets_the_same_session_as_a_token_gives() {
    let idp = Idp::start().await;
    let data = common::data();
    let server = start(&data, &[]);
    configure(&data, &server, "acme", &idp);

    let offer: Value =
        client().get(server.url("/api/signin/acme")).send().await.expect("gets").json().await.expect("json");
    assert_eq!(offer, json!({"tenant": "acme", "name": "Test IdP", "start": "/signin/acme/start"}));

    // The provider spells the address as it was typed: `ANA` is the user `ana`.
    let answer = sign_in(&server, "acme", &idp, "ANA", |_| {}).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert_eq!(answer.location.as_deref(), Some("/"));
    let session = answer.session.expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Max-Age=43200", "Path=/"] {
        assert!(session.contains(attribute), "{session} lacks {attribute}");
    }
    assert_eq!(me(&server, &session).await, (StatusCode::OK, json!({"tenant": "acme", "actor": "ana"})));

    // A supervisor, likewise; and ana again, on a second device: her first session stands,
    // both hang on one token of hers.
    let sam = sign_in(&server, "acme", &idp, "sam", |_| {}).await.session.expect("sam's session");
    assert_eq!(me(&server, &sam).await.1["actor"], "sam");
    let again = sign_in(&server, "acme", &idp, "ana", |_| {}).await.session.expect("a second session");
    assert_eq!(me(&server, &session).await.0, StatusCode::OK);
    assert_eq!(me(&server, &again).await.0, StatusCode::OK);
    let listed = tokens_of(&data, "acme");
    assert_eq!(listed.lines().filter(|l| l.contains("ana")).count(), 1, "{listed}");

    // Revoking her tokens ends her single sign-on sessions, as any token's.
    // (A host rechecks a credential it knows after at most 5 s.)
    agentstate_testkit::run(data.agentstate().args(["token", "revoke", "--tenant", "acme", "--user", "ana"]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    for ended in [&session, &again] {
        while me(&server, ended).await.0 != StatusCode::UNAUTHORIZED {
            assert!(std::time::Instant::now() < deadline, "a revoked session still works after 30 s");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    assert_eq!(me(&server, &sam).await.0, StatusCode::OK);

    // The provider rotated its keys: the server fetches them again and goes on.
    idp.state.lock().expect("lock").keys = vec![("k2".into(), FORGER_KEY)];
    let rotated = sign_in(&server, "acme", &idp, "ana", |t| {
        t.pem = FORGER_KEY;
        t.kid = "k2".into();
    })
    .await;
    assert_eq!(rotated.status, StatusCode::SEE_OTHER, "{}", rotated.body);
}

#[tokio::test]
async fn each_refusal_says_what_to_do_and_opens_no_session_and_makes_no_token() {
    let idp = Idp::start().await;
    let data = common::data();
    let server = start(&data, &[]);
    configure(&data, &server, "acme", &idp);
    let tokens_before = tokens_of(&data, "acme");

    type Change = Box<dyn FnOnce(&mut Token)>;
    let cases: Vec<(&str, &str, Change, StatusCode, &str)> = vec![
        ("a person who is no user", "mallory", Box::new(|_| {}), StatusCode::FORBIDDEN, "unknown_person"),
        (
            "an unverified address",
            "ana",
            Box::new(|t| t.verified = Some(false)),
            StatusCode::UNAUTHORIZED,
            "token_invalid",
        ),
        (
            "an address not said to be verified",
            "ana",
            Box::new(|t| t.verified = None),
            StatusCode::UNAUTHORIZED,
            "token_invalid",
        ),
        (
            "another audience",
            "ana",
            Box::new(|t| t.audience = "someone-else".into()),
            StatusCode::UNAUTHORIZED,
            "token_invalid",
        ),
        (
            "another issuer",
            "ana",
            Box::new(|t| t.issuer = "http://127.0.0.1:9/".into()),
            StatusCode::UNAUTHORIZED,
            "token_invalid",
        ),
        (
            "an expired token",
            "ana",
            Box::new(|t| {
                t.expires = chrono::Utc::now() - chrono::Duration::minutes(3);
                t.issued = chrono::Utc::now() - chrono::Duration::minutes(8);
            }),
            StatusCode::UNAUTHORIZED,
            "token_invalid",
        ),
        (
            "a token issued in the future",
            "ana",
            Box::new(|t| t.issued = chrono::Utc::now() + chrono::Duration::minutes(3)),
            StatusCode::UNAUTHORIZED,
            "token_invalid",
        ),
        ("a forged signature", "ana", Box::new(|t| t.pem = FORGER_KEY), StatusCode::UNAUTHORIZED, "token_invalid"),
        (
            "another nonce",
            "ana",
            Box::new(|t| t.nonce = "not-the-nonce".into()),
            StatusCode::UNAUTHORIZED,
            "token_invalid",
        ),
    ];
    for (what, email, change, status, code) in cases {
        let answer = sign_in(&server, "acme", &idp, email, change).await;
        assert_eq!((answer.status, answer.refused()), (status, code), "{what}");
        assert!(answer.session.is_none(), "{what}: no session");
    }
    let page = sign_in(&server, "acme", &idp, "mallory", |_| {}).await.body;
    assert!(page.contains("is not a user of this contact center — ask your admin"), "{page}");
    // The claim's value is the provider's to choose: it is text on the page, never markup.
    let page = sign_in(&server, "acme", &idp, "<img src=x onerror=alert(1)>\"'&", |_| {}).await.body;
    assert!(page.contains("(&lt;img src=x onerror=alert(1)&gt;\"'&amp;)"), "{page}");
    assert!(!page.contains("<img"), "{page}");

    // The state: none, another browser's, used already.
    let begun = begin(&server, "acme").await;
    let code = format!("code-{}", begun.state);
    idp.grant(&code, &begun.challenge, idp.id_token(&begun.nonce, "ana", |_| {}));
    let other = begin(&server, "acme").await;
    for (what, query, cookie) in [
        ("no state", vec![("code", code.as_str())], Some(begun.cookie.as_str())),
        ("no cookie", vec![("code", &code), ("state", &begun.state)], None),
        ("another sign-in's cookie", vec![("code", &code), ("state", &begun.state)], Some(other.cookie.as_str())),
        ("two states", vec![("code", &code), ("state", &other.state), ("state", &begun.state)], Some(&begun.cookie)),
    ] {
        let answer = callback(&server, "acme", &query, cookie).await;
        assert_eq!((answer.status, answer.refused()), (StatusCode::BAD_REQUEST, "state_unknown"), "{what}");
    }
    // The state was used up by the refused callback with another browser's cookie: it is
    // good for one callback, also a refused one.
    let replayed = callback(&server, "acme", &[("code", &code), ("state", &begun.state)], Some(&begun.cookie)).await;
    assert_eq!(replayed.refused(), "state_unknown");

    assert_eq!(tokens_of(&data, "acme"), tokens_before, "no refusal made a token");

    // A code used already — ana's, redeemed by her sign-in — with a fresh state of the
    // same browser: the provider refuses it. And the person cancelling there.
    let first = begin(&server, "acme").await;
    let used = format!("code-{}", first.state);
    idp.grant(&used, &first.challenge, idp.id_token(&first.nonce, "ana", |_| {}));
    let query = [("code", used.as_str()), ("state", first.state.as_str())];
    let signed_in = callback(&server, "acme", &query, Some(&first.cookie)).await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER, "{}", signed_in.body);
    let again = begin(&server, "acme").await;
    let query = [("code", used.as_str()), ("state", again.state.as_str())];
    let answer = callback(&server, "acme", &query, Some(&again.cookie)).await;
    assert_eq!((answer.status, answer.refused()), (StatusCode::UNAUTHORIZED, "provider_refused"));
    assert!(answer.session.is_none());
    let cancelled = begin(&server, "acme").await;
    let query = [("error", "access_denied"), ("state", cancelled.state.as_str())];
    assert_eq!(callback(&server, "acme", &query, Some(&cancelled.cookie)).await.refused(), "provider_refused");

    // The answer in German, for a browser that asks for it.
    let german = client()
        .get(server.url("/signin/acme/callback?state=x"))
        .header("accept-language", "de-DE,de;q=0.9")
        .send()
        .await
        .expect("gets");
    assert!(german.text().await.expect("text").contains("Diese Anmeldung wurde nicht in diesem Browser begonnen"));

    // A provider that answers with 2 MB: not read further than 1 MiB.
    let hostile = begin(&server, "acme").await;
    let code = format!("code-{}", hostile.state);
    idp.grant(&code, &hostile.challenge, idp.id_token(&hostile.nonce, "ana", |_| {}));
    idp.state.lock().expect("lock").answer_bytes = Some(2 << 20);
    let query = [("code", code.as_str()), ("state", hostile.state.as_str())];
    let answer = callback(&server, "acme", &query, Some(&hostile.cookie)).await;
    assert_eq!((answer.status, answer.refused()), (StatusCode::BAD_GATEWAY, "provider_unreachable"));
    idp.state.lock().expect("lock").answer_bytes = None;

    // A tenant without single sign-on; a provider that is down.
    let none = client().get(server.url("/signin/globex/start")).send().await.expect("gets");
    assert_eq!(none.status(), StatusCode::NOT_FOUND);
    assert!(none.text().await.expect("text").contains("data-code=\"not_configured\""));
    let offer = client().get(server.url("/api/signin/globex")).send().await.expect("gets");
    assert_eq!(offer.status(), StatusCode::NOT_FOUND);
    // A provider whose document sends browsers elsewhere than https: not followed.
    let hostile = Idp::start().await;
    hostile.state.lock().expect("lock").authorize_at = Some("javascript:alert(1)//".into());
    configure(&data, &server, "globex", &hostile);
    let answer = client().get(server.url("/signin/globex/start")).send().await.expect("gets");
    assert_eq!(answer.status(), StatusCode::BAD_GATEWAY);
    assert!(answer.headers().get("location").is_none());
    let down = Idp { issuer: "http://127.0.0.1:9".into(), state: idp.state.clone() };
    configure(&data, &server, "globex", &down);
    let unreachable = client().get(server.url("/signin/globex/start")).send().await.expect("gets");
    assert_eq!(unreachable.status(), StatusCode::BAD_GATEWAY);
    let page = unreachable.text().await.expect("text");
    assert!(page.contains("data-code=\"provider_unreachable\"") && page.contains("Try again in a few minutes"));

    let tokens = tokens_of(&data, "acme");
    assert_eq!(tokens.lines().count(), tokens_before.lines().count() + 1, "ana's only: {tokens}");
}

#[tokio::test]
async fn one_tenants_provider_never_signs_anyone_into_another_tenant() {
    let (north, south) = (Idp::start().await, Idp::start().await);
    let data = common::data();
    let server = start(&data, &[]);
    configure(&data, &server, "acme", &north);
    configure(&data, &server, "globex", &south);

    // acme's sign-in under way, called back at globex: not globex's.
    let begun = begin(&server, "acme").await;
    let code = format!("code-{}", begun.state);
    north.grant(&code, &begun.challenge, north.id_token(&begun.nonce, "ana", |_| {}));
    let query = [("code", code.as_str()), ("state", begun.state.as_str())];
    let answer = callback(&server, "globex", &query, Some(&begun.cookie)).await;
    assert_eq!(answer.refused(), "state_unknown");

    // A code of acme's provider at globex's own sign-in: globex's provider knows no such code.
    let begun = begin(&server, "globex").await;
    let code = format!("code-{}", begun.state);
    north.grant(&code, &begun.challenge, north.id_token(&begun.nonce, "ana", |_| {}));
    let query = [("code", code.as_str()), ("state", begun.state.as_str())];
    assert_eq!(callback(&server, "globex", &query, Some(&begun.cookie)).await.refused(), "provider_refused");

    // globex's provider handing out a token acme's provider signed: wrong issuer, wrong key.
    let answer = sign_in(&server, "globex", &south, "ana", |t| t.issuer = north.issuer.clone()).await;
    assert_eq!(answer.refused(), "token_invalid");
    assert!(answer.session.is_none());

    // Its own provider signs ana into globex, and a globex session reads nothing of acme.
    let session = sign_in(&server, "globex", &south, "ana", |_| {}).await.session.expect("a session");
    assert_eq!(me(&server, &session).await.1["tenant"], "globex");
    let pair = session.split(';').next().expect("pair");
    let acme = client().get(server.url("/api/tenants/acme/snapshot")).header("cookie", pair).send().await;
    assert_eq!(acme.expect("gets").status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_attackers_state_and_code_never_sign_a_victims_browser_in() {
    let idp = Idp::start().await;
    let data = common::data();
    let server = start(&data, &[]);
    configure(&data, &server, "acme", &idp);

    // The attacker begins in their own browser and gets a code for their own account.
    let attacker = begin(&server, "acme").await;
    let code = format!("code-{}", attacker.state);
    idp.grant(&code, &attacker.challenge, idp.id_token(&attacker.nonce, "ben", |_| {}));
    let link = [("code", code.as_str()), ("state", attacker.state.as_str())];
    // The victim opens the link: with no sign-in of their own, and with one under way.
    assert_eq!(callback(&server, "acme", &link, None).await.refused(), "state_unknown");
    let victim = begin(&server, "acme").await;
    let answer = callback(&server, "acme", &link, Some(&victim.cookie)).await;
    assert_eq!(answer.refused(), "state_unknown");
    assert!(answer.session.is_none());
    // The victim's own sign-in still works with its own state.
    let requests = idp.state.lock().expect("lock").token_requests;
    let own = format!("code-{}", victim.state);
    idp.grant(&own, &victim.challenge, idp.id_token(&victim.nonce, "ana", |_| {}));
    let query = [("code", own.as_str()), ("state", victim.state.as_str())];
    let signed_in = callback(&server, "acme", &query, Some(&victim.cookie)).await;
    assert_eq!(me(&server, &signed_in.session.expect("a session")).await.1["actor"], "ana");
    // Refused states never reached the provider's token endpoint: only the victim's code did.
    assert_eq!(idp.state.lock().expect("lock").token_requests, requests + 1);
}

#[tokio::test]
async fn sign_ins_are_rate_limited_and_the_settings_show_no_secret_and_only_to_admins() {
    let idp = Idp::start().await;
    let data = common::data();
    let server = start(&data, &[]);
    configure(&data, &server, "acme", &idp);

    // The CLI refuses what the flow could not use, and stores nothing then.
    for (what, args) in [
        (
            "an http issuer elsewhere",
            ["--issuer", "http://idp.example.com", "--redirect-uri", "https://x/signin/globex/callback"],
        ),
        (
            "another tenant's callback",
            ["--issuer", "https://idp.example.com", "--redirect-uri", "https://x/signin/acme/callback"],
        ),
    ] {
        let out = data
            .agentstate()
            .args(["tenant", "sso", "set", "globex", "--client-id", "c", "--client-secret-env", "S"])
            .args(args)
            .env("S", "secret")
            .output()
            .expect("runs");
        assert!(!out.status.success(), "{what} is refused");
    }
    let shown = agentstate_testkit::run(data.agentstate().args(["tenant", "sso", "show", "globex"]));
    assert_eq!(shown, "tenant globex has no single sign-on");
    let shown = agentstate_testkit::run(data.agentstate().args(["tenant", "sso", "show", "acme"]));
    assert!(shown.contains(&idp.issuer) && !shown.contains(CLIENT_SECRET), "{shown}");

    // An agent of acme may not read the settings; another tenant's token finds no tenant.
    let ana = data.token("acme", "ana");
    let (status, body) = common::get(&client(), &server, "/api/tenants/acme/sso", &ana).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("admins_only")));
    let globex = data.token("globex", "sam");
    let (status, _) = common::get(&client(), &server, "/api/tenants/acme/sso", &globex).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // An admin reads the settings — never the client secret.
    let description = data.path().join("north.yaml");
    std::fs::write(&description, "plan: complete\nusers:\n  - { id: ada, name: Ada Admin, roles: [admin] }\n")
        .expect("writes");
    agentstate_testkit::run(data.agentstate().args(["tenant", "create", "north"]).arg(&description));
    configure(&data, &server, "north", &idp);
    let ada = data.token("north", "ada");
    let response = client().get(server.url("/api/tenants/north/sso")).bearer_auth(&ada).send().await.expect("gets");
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.expect("text");
    assert!(!text.contains(CLIENT_SECRET), "{text}");
    let settings: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(settings["configured"], true);
    assert_eq!(settings["issuer"], idp.issuer.as_str());
    assert_eq!(settings["sign_in_page"], "/signin/north");

    // Beginning sign-ins over and over from one address runs into its budget (300, then 10
    // a second: a slow store lets the budget refill while the loop runs).
    let mut limited = None;
    for _ in 0..3000 {
        let response = client().get(server.url("/signin/acme/start")).send().await.expect("gets");
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(response.headers().contains_key("retry-after"));
            limited = Some(response.text().await.expect("text"));
            break;
        }
    }
    assert!(limited.expect("limited within 3,000 sign-ins").contains("data-code=\"rate_limited\""));
}
