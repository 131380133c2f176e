//! The route check: the OpenAPI document a running server serves is the committed
//! `docs/openapi.json` (from which the dashboard's HTTP types are generated), every
//! operation it lists answers on the server, every other method on its paths is refused,
//! and every answer — JSON bodies, the feed's events — validates against the schema the
//! document gives for its status.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use agentstate_testkit::api::{get, post, start};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The committed document; `cargo xtask openapi` writes it.
fn committed() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json");
    let text = std::fs::read_to_string(path).expect("docs/openapi.json exists");
    serde_json::from_str(&text).expect("docs/openapi.json is JSON")
}

/// The OpenAPI document's schemas (JSON Schema 2020-12, which OpenAPI 3.1 uses), compiled
/// on demand by their place in the document, so `$ref`s resolve inside it.
struct Validator {
    compiler: boon::Compiler,
    schemas: boon::Schemas,
}

const DOC: &str = "urn:agentstate:openapi";

impl Validator {
    fn new(doc: &Value) -> Validator {
        let mut compiler = boon::Compiler::new();
        compiler.set_default_draft(boon::Draft::V2020_12);
        compiler.add_resource(DOC, doc.clone()).expect("the document loads");
        Validator { compiler, schemas: boon::Schemas::new() }
    }

    /// Validates `instance` against the schema at `pointer` (a JSON pointer into the document).
    fn check(&mut self, pointer: &str, instance: &Value, what: &str) {
        let index = self.compiler.compile(&format!("{DOC}#{pointer}"), &mut self.schemas).expect("the schema compiles");
        if let Err(e) = self.schemas.validate(instance, index) {
            panic!("{what}: the answer does not fit the document:\n{e:#}\n{instance:#}");
        }
    }
}

/// A JSON pointer's token for `key`.
fn token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Where the document gives the schema for `status` and `content_type` of an operation.
fn response_schema(doc: &Value, path: &str, method: &str, status: StatusCode, content_type: &str) -> Option<String> {
    let response = format!("/paths/{}/{method}/responses/{}", token(path), status.as_str());
    assert!(doc.pointer(&response).is_some(), "{method} {path}: status {status} is not in the document");
    let schema = format!("{response}/content/{}/schema", token(content_type));
    doc.pointer(&schema).is_some().then_some(schema)
}

/// A concrete URL for a templated path.
fn concrete(path: &str) -> String {
    path.replace("{tenant}", "acme").replace("{channel}", "support").replace("{user}", "ana")
}

/// Query strings the operations need to answer 200.
fn query_for(path: &str) -> &'static str {
    match path {
        p if p.ends_with("/reports/activity") => "?from=0&to=9007199254740991",
        p if p.ends_with("/users") => "?search=an&roles=agent",
        p if p.ends_with("/allowed-actions") => "?channel=support",
        p if p.ends_with("/events") => "?after=0",
        _ => "",
    }
}

#[tokio::test]
async fn every_route_is_in_the_document_and_answers_as_it_says() {
    let data = common::data();
    let (ana, sam) = (data.token("acme", "ana"), data.token("acme", "sam"));
    let server = start(&data, &[]);
    let client = reqwest::Client::new();

    let served: Value =
        client.get(server.url("/api/openapi.json")).send().await.expect("gets").json().await.expect("JSON");
    assert_eq!(served["openapi"], "3.1.0");
    assert!(
        served == committed(),
        "docs/openapi.json is not the document the server serves: run `cargo xtask openapi` and commit it"
    );
    let doc = served;
    let mut validator = Validator::new(&doc);

    // Something to see: Ana signed in and on a call, Sam watching her.
    for (token, command) in [
        (&ana, json!({"type": "sign_in", "user": "ana", "channel": "support"})),
        (&sam, json!({"type": "pause", "user": "ana", "reason": "lunch"})),
        (&sam, json!({"type": "resume", "user": "ana"})),
    ] {
        let (status, body) = post(&client, &server, "acme", token, command).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    let mut exercised = BTreeSet::new();
    let paths = doc["paths"].as_object().expect("paths");
    for (path, item) in paths {
        for method in METHODS {
            let url = server.url(&format!("{}{}", concrete(path), query_for(path)));
            let verb = Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
            let mut request = client.request(verb, &url).bearer_auth(&sam);
            if item.get(method).is_none() {
                // Not documented: the router must not answer it either.
                let status = request.send().await.expect("sends").status();
                assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path} answers but is not documented");
                continue;
            }
            request = match (method, path.as_str()) {
                ("post", "/api/session") => {
                    request.header("origin", server.url("")).json(&json!({ "token": data.token("acme", "ben") }))
                }
                ("post", _) => request.json(&json!([
                    {"type": "sign_in", "user": "ben", "channel": "support"},
                    {"type": "end_wrap_up", "user": "ana"},
                ])),
                _ => request,
            };
            let response = request.send().await.expect("sends");
            let status = response.status();
            let content_type =
                response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            let what = format!("{method} {path} ({status}, {content_type})");
            assert!(status != StatusCode::METHOD_NOT_ALLOWED && status.as_u16() < 500, "{what}");
            let content_type = content_type.split(';').next().unwrap_or("").trim().to_owned();
            let schema = response_schema(&doc, path, method, status, &content_type);
            match content_type.as_str() {
                "application/json" => {
                    let body: Value = response.json().await.expect("JSON");
                    assert_ne!(body["error"]["code"], "no_such_route", "{what}");
                    validator.check(&schema.unwrap_or_else(|| panic!("{what}: no schema")), &body, &what);
                }
                "text/event-stream" => {
                    let schema = schema.unwrap_or_else(|| panic!("{what}: no schema"));
                    let events = first_events(response).await;
                    assert!(!events.is_empty(), "{what}: no events");
                    for event in &events {
                        validator.check(&schema, event, &what);
                    }
                }
                _ => {
                    assert!(status == StatusCode::NO_CONTENT || schema.is_some(), "{what}: undocumented content");
                }
            }
            exercised.insert(format!("{method} {path}"));
        }
    }
    let documented: usize = paths.values().map(|item| METHODS.iter().filter(|m| item.get(**m).is_some()).count()).sum();
    assert_eq!(exercised.len(), documented);
    assert!(exercised.contains("post /api/tenants/{tenant}/commands"), "{exercised:?}");

    // Every operation on a tenant, asked of another tenant (one that exists, and one that
    // does not) with acme's token, answers as if that tenant did not exist.
    let mut scoped = 0;
    for (path, item) in paths.iter().filter(|(path, _)| path.contains("{tenant}")) {
        for method in METHODS.iter().filter(|m| item.get(**m).is_some()) {
            for other in ["globex", "nobody"] {
                let url = server.url(&format!(
                    "{}{}",
                    concrete(path).replace("/acme", &format!("/{other}")),
                    query_for(path)
                ));
                let verb = Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
                let mut request = client.request(verb, &url).bearer_auth(&sam);
                if *method == "post" {
                    request = request.json(&json!({"type": "sign_in", "user": "ben", "channel": "support"}));
                }
                let response = request.send().await.expect("sends");
                let status = response.status();
                let body: Value = response.json().await.unwrap_or_default();
                assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path} as {other}: {body}");
                assert_eq!(body["error"]["code"], "unknown_tenant", "{method} {path} as {other}");
            }
            scoped += 1;
        }
    }
    assert!(scoped >= 10, "only {scoped} operations on a tenant");

    // The single-command form, a rejection and the API's own refusals fit the document too.
    for (command, status, code) in [
        (json!({"type": "pause", "user": "ben", "at": 5}), StatusCode::BAD_REQUEST, "at_not_allowed"),
        (json!({"type": "pause", "user": "ben", "actor": "sam"}), StatusCode::FORBIDDEN, "actor_mismatch"),
        (json!({"type": "pause", "user": "sam", "reason": "lunch"}), StatusCode::FORBIDDEN, "not_authorized"),
        (json!({"type": "pause"}), StatusCode::BAD_REQUEST, "invalid_command"),
    ] {
        let (answered, body) = post(&client, &server, "acme", &ana, command).await;
        assert_eq!(answered, status, "{body}");
        let code_of =
            |body: &Value| body["rejection"]["code"].as_str().or(body["error"]["code"].as_str()).map(str::to_owned);
        assert_eq!(code_of(&body).as_deref(), Some(code), "{body}");
        let schema = response_schema(&doc, "/api/tenants/{tenant}/commands", "post", status, "application/json");
        validator.check(&schema.expect("a schema"), &body, code);
    }
    let (status, body) =
        post(&client, &server, "acme", &ana, json!({"type": "sign_in", "user": "ana", "channel": "support"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let schema = response_schema(&doc, "/api/tenants/{tenant}/commands", "post", status, "application/json");
    validator.check(&schema.expect("a schema"), &body, "a rejected command");
    assert_eq!(body["rejection"]["code"], "already_signed_in");

    // A path that is not in the document is not served.
    let (status, body) = get(&client, &server, "/api/tenants/acme/nothing", &sam).await;
    assert_eq!((status, &body["error"]["code"]), (StatusCode::NOT_FOUND, &json!("no_such_route")));
}

/// The events the feed sends first (everything already stored), as JSON.
async fn first_events(response: reqwest::Response) -> Vec<Value> {
    use futures_util::StreamExt;
    let mut stream = response.bytes_stream();
    let mut text = String::new();
    while let Ok(Some(Ok(chunk))) = tokio::time::timeout(Duration::from_secs(2), stream.next()).await {
        text.push_str(&String::from_utf8_lossy(&chunk));
        if text.contains("\n\n") && text.matches("data:").count() >= 3 {
            break;
        }
    }
    text.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(|data| serde_json::from_str(data.trim()).expect("each event is JSON"))
        .collect()
}

/// The answers the first pass cannot reach (it runs without the demo tenant, without
/// single sign-on, and as a supervisor): `/demo/tokens` as the demo serves it, a tenant's
/// sign-in offer, and its single sign-on settings as its admin reads them.
#[tokio::test]
async fn the_demos_tokens_and_the_single_sign_on_answers_fit_the_document_too() {
    let data = common::data();
    let description = data.path().join("north.yaml");
    std::fs::write(&description, "plan: complete\nusers:\n  - { id: ada, name: Ada Admin, roles: [admin] }\n")
        .expect("writes");
    agentstate_testkit::run(data.agentstate().args(["tenant", "create", "north"]).arg(&description));
    agentstate_testkit::run(
        data.agentstate()
            .args(["tenant", "sso", "set", "north", "--issuer", "https://idp.example", "--client-id", "c"])
            .args(["--client-secret-env", "S", "--redirect-uri", "https://cc.example/signin/north/callback"])
            .env("S", "secret"),
    );
    let ada = data.token("north", "ada");
    // With the demo tenant seeded (no `--no-demo-tenant`), its routing system not running.
    let mut command = data.agentstate();
    command.args(["serve", "--addr", "127.0.0.1:0"]).env("RUST_LOG", "warn");
    let server = common::Server::start(&mut command).expect("starts the server");
    let doc = committed();
    let mut validator = Validator::new(&doc);
    let client = reqwest::Client::new();
    for (path, url, token) in [
        ("/demo/tokens", "/demo/tokens", None),
        ("/api/signin/{tenant}", "/api/signin/north", None),
        ("/api/tenants/{tenant}/sso", "/api/tenants/north/sso", Some(&ada)),
    ] {
        let mut request = client.get(server.url(url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("gets");
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        let schema = response_schema(&doc, path, "get", StatusCode::OK, "application/json").expect("a schema");
        let body: Value = response.json().await.expect("JSON");
        validator.check(&schema, &body, url);
    }
}
