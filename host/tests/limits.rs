//! Bounded everything (issue 19): what one client — with one tenant's token or none — can
//! make a server keep or do is limited, and no limit refuses what it was not made for.
//! Metrics labels, the demo's tokens, the unknown-token budget, sign-ins and sessions,
//! live feeds, and the shape of query-string errors, each against a real `agentstate serve`.

mod common;

use std::time::{Duration, Instant};

use common::{Server, start};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The status and JSON answer of a request (`null` when it is not JSON).
async fn answer(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("sends");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Asserts the API's JSON error shape with `code`.
fn assert_error(status: StatusCode, body: &Value, expected: StatusCode, code: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["error"]["code"].as_str(), Some(code), "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
}

async fn metrics(client: &reqwest::Client, server: &Server) -> String {
    client.get(server.url("/metrics")).send().await.expect("gets").text().await.expect("text")
}

#[tokio::test]
async fn metrics_label_methods_from_a_fixed_set() {
    let data = common::data();
    let server = start(&data, &[]);
    let client = reqwest::Client::new();
    assert_eq!(client.get(server.url("/healthz")).send().await.expect("gets").status(), StatusCode::OK);
    let before = metrics(&client, &server).await.len();
    for n in 0..200 {
        let method = Method::from_bytes(format!("MADEUP{n}").as_bytes()).expect("a method");
        client.request(method, server.url("/healthz")).send().await.expect("sends");
    }
    // Long names too: each would otherwise be kept, and printed, in every series it labels.
    for n in 0..10 {
        let method = Method::from_bytes(format!("LONG{n}{}", "X".repeat(4000)).as_bytes()).expect("a method");
        client.request(method, server.url("/api/me")).send().await.expect("sends");
    }
    let text = metrics(&client, &server).await;
    assert!(!text.contains("MADEUP") && !text.contains("LONG"), "a made-up method became a label");
    assert!(text.contains(r#"method="other""#), "unknown methods are counted as `other`");
    assert!(text.len() < before + 16_000, "/metrics grew from {before} to {} bytes", text.len());
}

/// A server that seeds and publishes the demo tenant (on loopback, as every test server).
fn start_with_demo(data: &common::Data) -> Server {
    let mut command = data.agentstate();
    command.args(["serve", "--addr", "127.0.0.1:0"]).env("RUST_LOG", "warn");
    Server::start(&mut command).expect("starts the server")
}

#[tokio::test]
async fn the_demo_tokens_go_only_to_a_loopback_host_and_their_file_is_private() {
    let data = common::data();
    let server = start_with_demo(&data);
    let client = reqwest::Client::new();
    let port = server.base.rsplit(':').next().expect("a port").to_owned();
    let tokens = || client.get(server.url("/demo/tokens"));

    let (status, body) = answer(tokens()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["tenant"], "demo");
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}"), format!("[::1]:{port}"), "localhost".into()]
    {
        let (status, body) = answer(tokens().header("host", &host)).await;
        assert_eq!(status, StatusCode::OK, "Host: {host}: {body}");
    }
    // DNS rebinding: a page of evil.example whose name now points at 127.0.0.1 reads what
    // it fetches from there, and its requests say `Host: evil.example`.
    for host in [
        format!("evil.example:{port}"),
        "evil.example".into(),
        format!("127.0.0.1.evil.example:{port}"),
        format!("localhost.evil.example:{port}"),
    ] {
        let (status, body) = answer(tokens().header("host", &host)).await;
        assert!(matches!(status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND), "Host: {host}: {status} {body}");
        assert!(body["error"]["code"].is_string(), "Host: {host}: {body}");
        assert!(!body.to_string().contains("ast_"), "Host: {host} was given tokens");
    }

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // The tokens, and the log of who did what with their hashes, are the owner's alone.
        for file in ["demo-tokens.json", "agentstate.db", "agentstate.db-wal", "agentstate.db-shm"] {
            let Ok(metadata) = std::fs::metadata(data.path().join(file)) else {
                assert!(file != "demo-tokens.json", "the demo's tokens are written");
                continue;
            };
            let mode = metadata.permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{file} is {:o}", mode & 0o777);
        }
    }
}

#[tokio::test]
async fn an_address_that_guesses_tokens_is_still_served_its_valid_ones() {
    let data = common::data();
    // Never used before the guessing: nothing about it is cached.
    let ana = data.token("acme", "ana");
    let server = start(&data, &[]);
    let client = reqwest::Client::new();
    let me = |token: &str| client.get(server.url("/api/me")).bearer_auth(token);

    let mut refused = None;
    for n in 0..1_000 {
        let (status, body) = answer(me(&format!("ast_guess{n}"))).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_error(status, &body, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
            refused = Some(n);
            break;
        }
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
    let refused = refused.expect("guessing is limited");
    assert!(refused <= 150, "{refused} guesses before the first refusal");

    // Someone else in the same office (one address) arrives with a valid token.
    let (status, body) = answer(me(&ana)).await;
    assert_eq!(status, StatusCode::OK, "a valid token from a guessing address: {body}");
    assert_eq!(body["actor"], "ana");
    // And the guessing stays limited.
    let (status, body) = answer(me("ast_guess_more")).await;
    assert_error(status, &body, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
}

async fn sign_in(client: &reqwest::Client, server: &Server, token: &str) -> (StatusCode, Value, Option<String>) {
    let response =
        client.post(server.url("/api/session")).json(&json!({ "token": token })).send().await.expect("posts");
    let status = response.status();
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().expect("text").to_owned());
    let cookie = response.headers().get("set-cookie").map(|v| {
        let text = v.to_str().expect("text");
        text.split(';').next().expect("a cookie").to_owned()
    });
    let body = response.json().await.unwrap_or(Value::Null);
    if status == StatusCode::TOO_MANY_REQUESTS {
        assert!(retry_after.is_some(), "a 429 without Retry-After: {body}");
    }
    (status, body, cookie)
}

#[tokio::test]
async fn sign_ins_are_limited_per_token_and_per_address() {
    let data = common::data();
    let (ana, ben) = (data.token("acme", "ana"), data.token("acme", "ben"));
    let server = start(&data, &[]);
    let client = reqwest::Client::new();

    let (mut opened, mut refused) = (0, 0);
    for _ in 0..3_000 {
        let (status, body, _) = sign_in(&client, &server, &ana).await;
        match status {
            StatusCode::OK => opened += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert_error(status, &body, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
                refused += 1;
            }
            _ => panic!("a sign-in got {status}: {body}"),
        }
    }
    assert!(opened >= 20, "a token may sign in a few times in a row: only {opened}");
    assert!(opened <= 40, "{opened} of 3,000 sign-ins of one token opened a session");
    assert_eq!(opened + refused, 3_000);

    // The address has spent its budget too: another token's sign-ins from it are refused,
    // though that token has signed in never.
    let mut refused = 0;
    for _ in 0..20 {
        let (status, body, _) = sign_in(&client, &server, &ben).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_error(status, &body, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
            refused += 1;
        }
    }
    assert!(refused >= 10, "only {refused} of 20 quick sign-ins from a spent address were refused");
}

#[tokio::test]
async fn a_token_keeps_at_most_twenty_sessions_and_the_oldest_end() {
    let data = common::data();
    let ana = data.token("acme", "ana");
    let server = start(&data, &[]);
    let client = reqwest::Client::new();
    let mut cookies = Vec::new();
    for _ in 0..25 {
        let (status, body, cookie) = sign_in(&client, &server, &ana).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        cookies.push(cookie.expect("a session cookie"));
    }
    for (n, cookie) in cookies.iter().enumerate() {
        let (status, body) = answer(client.get(server.url("/api/me")).header("cookie", cookie)).await;
        if n < 5 {
            assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
        } else {
            assert_eq!(status, StatusCode::OK, "session {n}: {body}");
        }
    }
}

#[tokio::test]
async fn signing_out_with_unknown_cookies_is_charged_like_unknown_tokens() {
    let data = common::data();
    let ana = data.token("acme", "ana");
    let server = start(&data, &[]);
    let client = reqwest::Client::new();
    let origin = server.url("");
    let sign_out = |cookie: &str| {
        client
            .delete(server.url("/api/session"))
            .header("cookie", format!("agentstate_session={cookie}"))
            .header("origin", origin.trim_end_matches('/'))
    };
    // A session opened before the guessing, to sign out of after it.
    let (status, body, cookie) = sign_in(&client, &server, &ana).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let session = cookie.expect("a cookie");
    let session = session.strip_prefix("agentstate_session=").expect("the session cookie");

    let mut refused = None;
    for n in 0..2_000 {
        let response = sign_out(&format!("ass_random{n}")).send().await.expect("deletes");
        match response.status() {
            StatusCode::NO_CONTENT => {}
            StatusCode::TOO_MANY_REQUESTS => {
                let body: Value = response.json().await.expect("JSON");
                assert_error(StatusCode::TOO_MANY_REQUESTS, &body, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
                refused = Some(n);
                break;
            }
            other => panic!("a sign-out got {other}"),
        }
    }
    let refused = refused.expect("unknown session cookies are charged");
    assert!(refused <= 150, "{refused} unknown cookies before the first refusal");

    // A real session still signs out from that address.
    let response = sign_out(session).send().await.expect("deletes");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (status, _) =
        answer(client.get(server.url("/api/me")).header("cookie", format!("agentstate_session={session}"))).await;
    // (From this address an unknown credential is still answered 429: it is still guessing.)
    assert!(matches!(status, StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS), "the session ended: {status}");
}

/// Opens a live feed of acme as `token`; the response while it is open, or the refusal.
async fn open_feed(client: &reqwest::Client, server: &Server, token: &str) -> reqwest::Response {
    client.get(server.url("/api/tenants/acme/events")).bearer_auth(token).send().await.expect("follows")
}

/// A feed's refusal: its status and JSON body (a feed that was opened instead is not read).
async fn refusal(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    assert_ne!(status, StatusCode::OK, "the feed was opened");
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Opens feeds as `token` until one is refused, within `deadline`: a closed feed's slot is
/// freed when the server notices the connection is gone.
async fn open_feed_within(
    client: &reqwest::Client,
    server: &Server,
    token: &str,
    deadline: Duration,
) -> reqwest::Response {
    let until = Instant::now() + deadline;
    loop {
        let response = open_feed(client, server, token).await;
        if response.status() == StatusCode::OK || Instant::now() > until {
            return response;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_token_holds_at_most_twenty_feeds_and_a_closed_one_frees_its_slot() {
    let data = common::data();
    let (ana, ben) = (data.token("acme", "ana"), data.token("acme", "ben"));
    let server = start(&data, &[]);
    let client = reqwest::Client::new();
    let mut feeds = Vec::new();
    for n in 0..20 {
        let feed = open_feed(&client, &server, &ana).await;
        assert_eq!(feed.status(), StatusCode::OK, "feed {n}");
        feeds.push(feed);
    }
    for _ in 0..3 {
        let (status, body) = refusal(open_feed(&client, &server, &ana).await).await;
        assert_error(status, &body, StatusCode::TOO_MANY_REQUESTS, "too_many_feeds");
    }
    // Sessions made from the token share its feeds.
    let (status, body, cookie) = sign_in(&client, &server, &ana).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let by_cookie =
        client.get(server.url("/api/tenants/acme/events")).header("cookie", cookie.expect("a cookie")).send().await;
    assert_eq!(by_cookie.expect("follows").status(), StatusCode::TOO_MANY_REQUESTS);
    // Another token has feeds of its own.
    assert_eq!(open_feed(&client, &server, &ben).await.status(), StatusCode::OK);

    drop(feeds.pop());
    let again = open_feed_within(&client, &server, &ana, Duration::from_secs(10)).await;
    assert_eq!(again.status(), StatusCode::OK, "closing a feed frees its slot");
}

#[tokio::test]
async fn a_host_holds_at_most_its_max_feeds() {
    let data = common::data();
    let tokens: Vec<String> = ["ana", "ben", "sam", "ana"].iter().map(|u| data.token("acme", u)).collect();
    let server = start(&data, &["--max-feeds", "3"]);
    let client = reqwest::Client::new();
    let mut feeds = Vec::new();
    for token in &tokens[..3] {
        let feed = open_feed(&client, &server, token).await;
        assert_eq!(feed.status(), StatusCode::OK);
        feeds.push(feed);
    }
    let refused = open_feed(&client, &server, &tokens[3]).await;
    assert!(refused.headers().contains_key("retry-after"), "{:?}", refused.headers());
    let (status, body) = refusal(refused).await;
    assert_error(status, &body, StatusCode::SERVICE_UNAVAILABLE, "too_many_feeds");

    drop(feeds.pop());
    let again = open_feed_within(&client, &server, &tokens[3], Duration::from_secs(10)).await;
    assert_eq!(again.status(), StatusCode::OK, "closing a feed frees its slot on the host");
}

#[tokio::test]
async fn query_string_errors_answer_in_the_json_error_shape() {
    let data = common::data();
    let sam = data.token("acme", "sam");
    let server = start(&data, &[]);
    let client = reqwest::Client::new();
    for path in [
        "/api/tenants/acme/reports/activity?from=abc&to=1",
        "/api/tenants/acme/reports/activity?to=1",
        "/api/tenants/acme/events?after=x",
        "/api/tenants/acme/events?after=-1",
        "/api/tenants/acme/users/ana/allowed-actions?channel=a&channel=b",
    ] {
        let (status, body) = answer(client.get(server.url(path)).bearer_auth(&sam)).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
        assert!(!body["error"]["message"].as_str().unwrap_or_default().is_empty(), "{path}: {body}");
    } // A path that is no text, a method a route does not take: the same shape.
    let (status, body) = answer(client.get(server.url("/api/tenants/acme/users/%FF/history")).bearer_auth(&sam)).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_path");
    let (status, body) = answer(client.post(server.url("/api/tenants/acme/snapshot")).bearer_auth(&sam)).await;
    assert_error(status, &body, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    // A `system` feed whose cursor lies past the log's end would skip what comes next;
    // `Last-Event-ID` that is no number is refused, not read as "from the start".
    let system = data.token("acme", "system");
    let (status, body) = answer(client.get(server.url("/api/tenants/acme/events?after=5")).bearer_auth(&system)).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
    let unreadable =
        client.get(server.url("/api/tenants/acme/events")).bearer_auth(&system).header("Last-Event-ID", "abc");
    let (status, body) = answer(unreadable).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
}
