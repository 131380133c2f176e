//! Who may see what, through every read route (`docs/rules.md` §6): an admin, a supervisor
//! limited to their channels and the same supervisor unlimited, an agent, a user without a
//! role, and another tenant's token — each answer checked for the rows it must have, the
//! rows it must not, and 404s. On SQLite, and on PostgreSQL when `cargo xtask test` runs
//! it again with `AGENTSTATE_TEST_POSTGRES`.

use std::time::{Duration, Instant};

mod common;

use agentstate_testkit::run;
use common::{Server, get, post, start};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Sam supervises support (ana, ben, uma); cy works sales, outside Sam's reach, where uma
/// supervises; rob has no role.
const TENANT: &str = "
plan: complete
users:
  - { id: ada, name: Ada Admin, roles: [admin] }
  - { id: sam, name: Sam Supervisor, roles: [supervisor] }
  - { id: ana, name: Ana Agent, roles: [agent] }
  - { id: ben, name: Ben Agent, roles: [agent] }
  - { id: cy, name: Cy Agent, roles: [agent] }
  - { id: rob, name: Rob Nobody, roles: [] }
  - { id: uma, name: Uma Lead, roles: [agent, supervisor] }
channels:
  - { id: support, kind: queue, name: Support, agents: [ana, ben, uma], supervisors: [sam] }
  - { id: sales, kind: queue, name: Sales Floor, wrap_up_secs: 600, agents: [cy], supervisors: [uma] }
";

fn text(value: &Value) -> String {
    value.to_string()
}

async fn ok(client: &reqwest::Client, server: &Server, path: &str, token: &str) -> Value {
    let (status, body) = get(client, server, path, token).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

async fn not_found(client: &reqwest::Client, server: &Server, path: &str, token: &str, code: &str) {
    let (status, body) = get(client, server, path, token).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    assert_eq!(body["error"]["code"], code, "{path}: {body}");
}

async fn csv(client: &reqwest::Client, server: &Server, path: &str, token: &str) -> String {
    let response = client.get(server.url(path)).bearer_auth(token).send().await.expect("gets");
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.text().await.expect("text")
}

/// What the live feed sends in its first second, as text.
async fn feed(server: &Server, token: &str) -> String {
    let client = reqwest::Client::builder().timeout(Duration::from_millis(1500)).build().expect("a client");
    let mut response =
        client.get(server.url("/api/tenants/sight/events?after=0")).bearer_auth(token).send().await.expect("opens");
    assert_eq!(response.status(), StatusCode::OK);
    let mut got = Vec::new();
    let until = Instant::now() + Duration::from_millis(1200);
    while Instant::now() < until {
        match response.chunk().await {
            Ok(Some(chunk)) => got.extend_from_slice(&chunk),
            _ => break,
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test]
async fn every_read_route_answers_only_what_the_caller_may_see() {
    let data = common::data();
    let description = data.path().join("sight.yaml");
    std::fs::write(&description, TENANT).expect("writes");
    run(data.agentstate().args(["tenant", "create", "sight"]).arg(&description));
    let token = |user: &str| data.token("sight", user);
    let (ada, sam, ana, rob, system) = (token("ada"), token("sam"), token("ana"), token("rob"), token("system"));
    let uma = token("uma");
    let stranger = data.token("globex", "sam");
    let server = start(&data, &[]);
    let client = reqwest::Client::new();
    let command = |token: &str, body: Value| {
        let (client, server, token) = (&client, &server, token.to_owned());
        async move {
            let (status, answer) = post(client, server, "sight", &token, body.clone()).await;
            assert_eq!(status, StatusCode::OK, "{body}: {answer}");
        }
    };
    // The day: ana and ben on support, ana at the doctor's; cy on sales, at lunch; ben's
    // phone; Sam signs rob into support (R2: a sign-in, not an assignment).
    command(&ana, json!({"type": "sign_in", "user": "ana", "channel": "support"})).await;
    command(&ana, json!({"type": "pause", "user": "ana", "reason": "doctor"})).await;
    command(&ada, json!({"type": "sign_in", "user": "ben", "channel": "support"})).await;
    command(
        &system,
        json!({"type": "device_registered", "user": "ben", "device": "b1", "kind": "softphone", "label": "Bens Handy"}),
    )
    .await;
    command(&system, json!({"type": "device_registered", "user": "cy", "device": "c1", "kind": "desk_phone", "label": "Cys Tischtelefon"})).await;
    command(&ada, json!({"type": "sign_in", "user": "cy", "channel": "sales"})).await;
    command(&ada, json!({"type": "pause", "user": "cy", "reason": "lunch"})).await;
    command(&sam, json!({"type": "sign_in", "user": "rob", "channel": "support"})).await;

    let users = |snapshot: &Value| -> Vec<String> {
        let mut ids: Vec<String> =
            snapshot["state"]["users"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
        ids.sort();
        ids
    };
    let channels = |snapshot: &Value| -> Vec<String> {
        let mut ids: Vec<String> =
            snapshot["state"]["channels"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
        ids.sort();
        ids
    };
    let snapshot = "/api/tenants/sight/snapshot";
    let (roster_support, roster_sales) =
        ("/api/tenants/sight/channels/support/roster", "/api/tenants/sight/channels/sales/roster");
    let (states_support, states_sales) =
        ("/api/tenants/sight/channels/support/states", "/api/tenants/sight/channels/sales/states");
    // The last day up to now (a report covers at most 31 days; time after now is now).
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let report = &format!("/api/tenants/sight/reports/activity?from={}&to={}", now - 86_400_000, now + 86_400_000);
    let report_csv = &format!("{report}&format=csv");
    let row_users = |report: &Value| -> Vec<String> {
        let mut ids: Vec<String> = report["rows"]
            .as_array()
            .map(|rows| rows.iter().filter_map(|r| r["user"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        ids.sort();
        ids.dedup();
        ids
    };

    // An admin sees everything.
    let all = ok(&client, &server, snapshot, &ada).await;
    assert_eq!(users(&all), ["ada", "ana", "ben", "cy", "rob", "sam", "uma"]);
    assert_eq!(channels(&all), ["sales", "support"]);
    assert!(text(&ok(&client, &server, roster_sales, &ada).await).contains("lunch"));
    // Uma is assigned to support and never signed in: her row shows, signed out throughout.
    assert_eq!(row_users(&ok(&client, &server, report, &ada).await), ["ana", "ben", "cy", "rob", "uma"]);
    assert!(
        ok(&client, &server, "/api/tenants/sight/users/cy/history", &ada).await["events"]
            .as_array()
            .is_some_and(|h| !h.is_empty())
    );

    // A supervisor limited to support: support's people, nothing of cy; sales only as a
    // channel (every user sees the channels, not who is on them).
    let limited = ok(&client, &server, snapshot, &sam).await;
    assert_eq!(users(&limited), ["ana", "ben", "rob", "sam", "uma"]);
    assert_eq!(channels(&limited), ["sales", "support"]);
    assert!(!text(&limited).contains("lunch") && !text(&limited).contains("Cys Tischtelefon"));
    assert!(text(&limited).contains("doctor") && text(&limited).contains("Bens Handy"));
    let roster = ok(&client, &server, roster_support, &sam).await;
    assert_eq!(roster["entries"].as_array().map(Vec::len), Some(5), "ana, ben, rob, sam and uma: {roster}");
    let roster = ok(&client, &server, roster_sales, &sam).await;
    assert!(!text(&roster).contains("\"cy\"") && !text(&roster).contains("lunch"), "{roster}");
    let states = ok(&client, &server, states_sales, &sam).await;
    assert_eq!(states["counts"]["paused"], 0, "cy's lunch is not Sam's to count: {states}");
    not_found(&client, &server, "/api/tenants/sight/channels/nowhere/roster", &sam, "unknown_channel").await;
    not_found(&client, &server, "/api/tenants/sight/users/cy/history", &sam, "unknown_user").await;
    let report_sam = ok(&client, &server, report, &sam).await;
    assert_eq!(row_users(&report_sam), ["ana", "ben", "rob", "uma"]);
    assert!(!text(&report_sam).contains("lunch"));
    let csv_sam = csv(&client, &server, report_csv, &sam).await;
    assert!(csv_sam.contains("ana") && !csv_sam.contains("cy,") && !csv_sam.contains("lunch"), "{csv_sam}");
    let lingering = ok(&client, &server, "/api/tenants/sight/lingering-unassigned", &sam).await;
    assert!(text(&lingering).contains("rob"), "{lingering}");
    // "+ Log agent" finds any agent, with name, roles and devices — but not their state.
    let found = ok(&client, &server, "/api/tenants/sight/users?search=cy", &sam).await;
    assert!(text(&found).contains("Cys Tischtelefon"), "{found}");
    let verdicts = ok(&client, &server, "/api/tenants/sight/users/cy/allowed-actions", &sam).await;
    assert!(!text(&verdicts).contains("sales"), "cy's channel is not for Sam to learn: {verdicts}");
    let verdicts = ok(&client, &server, "/api/tenants/sight/users/cy/allowed-actions?channel=sales", &sam).await;
    assert_eq!(verdicts["sign_in"]["rejection"]["code"], "outside_supervisor_scope", "{verdicts}");
    assert_eq!(verdicts["sign_in"]["rejection"]["channels"], json!([]), "{verdicts}");
    let sam_feed = feed(&server, &sam).await;
    assert!(sam_feed.contains("doctor") && !sam_feed.contains("lunch") && !sam_feed.contains("Cys"), "{sam_feed}");

    // An agent: themselves, and their channel as counts.
    let own = ok(&client, &server, snapshot, &ana).await;
    assert_eq!(users(&own), ["ana"]);
    assert_eq!(channels(&own), ["sales", "support"]);
    for colleague in ["Bens Handy", "lunch", "Ben Agent", "rob"] {
        assert!(!text(&own).contains(colleague), "{colleague} in {own}");
    }
    let roster = ok(&client, &server, roster_support, &ana).await;
    assert_eq!(roster["entries"].as_array().map(Vec::len), Some(1), "only ana: {roster}");
    let states = ok(&client, &server, states_support, &ana).await;
    assert_eq!(states["agents"].as_array().map(Vec::len), Some(1), "only ana: {states}");
    let counts = ok(&client, &server, "/api/tenants/sight/channel-counts", &ana).await;
    assert_eq!(counts[0]["channel"], "support");
    assert_eq!(counts[0]["counts"]["paused"], 1, "{counts}");
    assert_eq!(counts[0]["counts"]["available"], 2, "ben and rob: {counts}");
    let roster = ok(&client, &server, roster_sales, &ana).await;
    assert_eq!(roster["entries"].as_array().map(Vec::len), Some(0), "nobody ana sees: {roster}");
    not_found(&client, &server, "/api/tenants/sight/users/ben/history", &ana, "unknown_user").await;
    assert!(
        ok(&client, &server, "/api/tenants/sight/users/ana/history", &ana).await["events"]
            .as_array()
            .is_some_and(|h| !h.is_empty())
    );
    assert_eq!(row_users(&ok(&client, &server, report, &ana).await), ["ana"]);
    let found = ok(&client, &server, "/api/tenants/sight/users?search=a", &ana).await;
    assert_eq!(found.as_array().map(Vec::len), Some(1), "only herself: {found}");
    let verdicts = ok(&client, &server, "/api/tenants/sight/users/ben/allowed-actions", &ana).await;
    let made_up = ok(&client, &server, "/api/tenants/sight/users/nobody/allowed-actions", &ana).await;
    assert_eq!(verdicts, made_up, "ben as if he did not exist");
    assert_eq!(verdicts["pause"]["rejection"]["code"], "not_authorized", "{verdicts}");
    assert!(
        ok(&client, &server, "/api/tenants/sight/lingering-unassigned", &ana)
            .await
            .as_array()
            .is_some_and(Vec::is_empty)
    );
    let ana_feed = feed(&server, &ana).await;
    for colleague in ["Bens Handy", "lunch", "Cys", "\"ben\""] {
        assert!(!ana_feed.contains(colleague), "{colleague} in ana's feed: {ana_feed}");
    }
    assert!(ana_feed.contains("doctor"), "her own pause: {ana_feed}");

    // A user without a role: themselves and the sign-in they hold, nothing else.
    let nobody = ok(&client, &server, snapshot, &rob).await;
    assert_eq!(users(&nobody), ["rob"]);
    assert!(!text(&nobody).contains("doctor") && !text(&nobody).contains("lunch"));
    assert!(
        ok(&client, &server, "/api/tenants/sight/channel-counts", &rob).await.as_array().is_some_and(Vec::is_empty)
    );
    not_found(&client, &server, "/api/tenants/sight/users/ana/history", &rob, "unknown_user").await;
    let roster = ok(&client, &server, roster_support, &rob).await;
    assert_eq!(roster["entries"].as_array().map(Vec::len), Some(1), "only rob: {roster}");
    let roster = ok(&client, &server, roster_sales, &rob).await;
    assert_eq!(roster["entries"].as_array().map(Vec::len), Some(0), "nobody rob sees: {roster}");
    // The channel rob was signed in to shows him his own state, and counts only him.
    let states = ok(&client, &server, states_support, &rob).await;
    assert_eq!(states["counts"]["available"], 1, "only rob himself: {states}");
    assert_eq!(states["counts"]["paused"], 0, "ana's pause is not rob's to count: {states}");
    assert_eq!(row_users(&ok(&client, &server, report, &rob).await), ["rob"]);
    let found = ok(&client, &server, "/api/tenants/sight/users?search=", &rob).await;
    assert_eq!(found.as_array().map(Vec::len), Some(1), "{found}");

    // Another tenant's token: nothing at all.
    for path in
        [snapshot, roster_support, report, "/api/tenants/sight/users/ana/history", "/api/tenants/sight/channel-counts"]
    {
        not_found(&client, &server, path, &stranger, "unknown_tenant").await;
    }

    // The same supervisor, unlimited: every channel and everyone on one.
    command(&ada, json!({"type": "set_setting", "setting": "supervisors_limited_to_assigned", "value": false})).await;
    let unlimited = ok(&client, &server, snapshot, &sam).await;
    assert_eq!(users(&unlimited), ["ana", "ben", "cy", "rob", "sam", "uma"]);
    assert_eq!(channels(&unlimited), ["sales", "support"]);
    assert!(text(&ok(&client, &server, roster_sales, &sam).await).contains("lunch"));
    assert_eq!(row_users(&ok(&client, &server, report, &sam).await), ["ana", "ben", "cy", "rob", "uma"]);
    ok(&client, &server, "/api/tenants/sight/users/cy/history", &sam).await;
    // Narrowed again, the feed of a follower takes cy and sales out of sight.
    command(&ada, json!({"type": "set_setting", "setting": "supervisors_limited_to_assigned", "value": true})).await;
    let again = ok(&client, &server, snapshot, &sam).await;
    assert_eq!(users(&again), ["ana", "ben", "rob", "sam", "uma"]);
    let later = feed(&server, &sam).await;
    assert!(later.contains("event: snapshot") && !later.contains("Cys"), "{later}");

    // Someone still on a call in reach stays in sight until it ends: Sam may monitor them.
    command(&system, json!({"type": "interaction_started", "user": "rob", "channel": "support", "interaction": "r1"}))
        .await;
    command(&sam, json!({"type": "sign_out", "user": "rob", "channel": "support"})).await;
    assert!(text(&ok(&client, &server, roster_support, &sam).await).contains("\"rob\""));
    command(&system, json!({"type": "interaction_ended", "interaction": "r1"})).await;
    assert!(!text(&ok(&client, &server, roster_support, &sam).await).contains("\"rob\""));
    assert_eq!(users(&ok(&client, &server, snapshot, &sam).await), ["ana", "ben", "sam", "uma"]);

    // Uma, whom Sam sees, listens to cy, whom he does not: Uma's history shows Sam nothing of it.
    command(&ada, json!({"type": "resume", "user": "cy"})).await;
    command(&system, json!({"type": "interaction_started", "user": "cy", "channel": "sales", "interaction": "c1"}))
        .await;
    command(&uma, json!({"type": "monitor", "user": "cy", "mode": "listen"})).await;
    let seen_by_sam = text(&ok(&client, &server, "/api/tenants/sight/users/uma/history", &sam).await);
    assert!(!seen_by_sam.contains("monitoring_started") && !seen_by_sam.contains("\"cy\""), "{seen_by_sam}");
    let seen_by_ada = text(&ok(&client, &server, "/api/tenants/sight/users/uma/history", &ada).await);
    assert!(seen_by_ada.contains("monitoring_started"), "{seen_by_ada}");
}

/// Law 3 over HTTP (`docs/rules.md` §2 rules 6–8): a refusal tells no more than a read. An
/// agent naming an existing colleague and a made-up id gets the same bytes; a supervisor
/// limited to support gets the same bytes for cy, who works sales out of his sight,
/// whatever cy is doing.
#[tokio::test]
async fn a_refusal_tells_no_more_than_a_read() {
    let data = common::data();
    let description = data.path().join("sight.yaml");
    std::fs::write(&description, TENANT).expect("writes");
    run(data.agentstate().args(["tenant", "create", "sight"]).arg(&description));
    let token = |user: &str| data.token("sight", user);
    let (ada, sam, ana, system) = (token("ada"), token("sam"), token("ana"), token("system"));
    let server = start(&data, &[]);
    let client = reqwest::Client::new();
    // The answer's bytes: status and body as sent.
    let answer = |token: &str, body: Value| {
        let (client, server, token) = (&client, &server, token.to_owned());
        async move {
            let response = client
                .post(server.url("/api/tenants/sight/commands"))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .expect("posts");
            let status = response.status();
            (status, response.text().await.expect("a body"))
        }
    };
    let accepted = |token: &str, body: Value| {
        let answer = answer(token, body.clone());
        async move {
            let (status, text) = answer.await;
            assert_eq!(status, StatusCode::OK, "{body}: {text}");
        }
    };
    accepted(&ada, json!({"type": "sign_in", "user": "ben", "channel": "support"})).await;
    accepted(&system, json!({"type": "interaction_started", "user": "ben", "channel": "support", "interaction": "b1"}))
        .await;

    // ana names ben, then nobody: every command gets the same bytes (the command id aside,
    // none is sent).
    let about = |user: &str| {
        vec![
            json!({"type": "sign_out", "user": user, "channel": "support"}),
            json!({"type": "sign_in", "user": user, "channel": "nowhere"}),
            json!({"type": "pause", "user": user, "reason": "lunch"}),
            json!({"type": "end_wrap_up", "user": user}),
            json!({"type": "monitor", "user": user, "mode": "listen"}),
            json!({"type": "sign_out_unassigned", "user": user}),
            json!({"type": "assign", "user": user, "channel": "support", "as": "agent"}),
        ]
    };
    for (colleague, nobody) in about("ben").into_iter().zip(about("ghost")) {
        let (seen, unseen) = (answer(&ana, colleague.clone()).await, answer(&ana, nobody).await);
        assert_eq!(seen, unseen, "ana learns whether ben exists from {colleague}");
        assert_eq!(seen.0, StatusCode::FORBIDDEN, "{colleague}: {}", seen.1);
    }
    let (running, made_up) = (
        answer(&ana, json!({"type": "interaction_ended", "interaction": "b1"})).await,
        answer(&ana, json!({"type": "interaction_ended", "interaction": "zz"})).await,
    );
    assert_eq!(running, made_up, "ana learns which calls run");

    // Sam (support) on cy (sales): nowhere, signed in, paused, on a call, in wrap-up — one
    // answer per command throughout, naming no channel.
    let commands = [
        json!({"type": "sign_out", "user": "cy", "channel": "sales"}),
        json!({"type": "sign_out_all", "user": "cy"}),
        json!({"type": "sign_in", "user": "cy", "channel": "sales"}),
        json!({"type": "sign_in_assigned", "user": "cy"}),
        json!({"type": "pause", "user": "cy", "reason": "lunch"}),
        json!({"type": "resume", "user": "cy"}),
        json!({"type": "end_wrap_up", "user": "cy"}),
        json!({"type": "monitor", "user": "cy", "mode": "barge"}),
        json!({"type": "stop_monitor", "user": "cy"}),
        json!({"type": "sign_out_unassigned", "user": "cy"}),
    ];
    // Each answer but its `seq`, where the log stood: the day's commands move it.
    let answers = || async {
        let mut all = Vec::new();
        for command in &commands {
            let (status, text) = answer(&sam, command.clone()).await;
            let mut body: Value = serde_json::from_str(&text).expect("json");
            body.as_object_mut().map(|b| b.remove("seq"));
            all.push((status, body.to_string()));
        }
        all
    };
    let nowhere = answers().await;
    for (status, body) in &nowhere {
        assert_eq!(*status, StatusCode::FORBIDDEN, "{body}");
        assert!(body.contains("outside_supervisor_scope") && body.contains("\"channels\":[]"), "{body}");
    }
    let day = [
        ("signed in", &ada, json!({"type": "sign_in", "user": "cy", "channel": "sales"})),
        ("paused", &ada, json!({"type": "pause", "user": "cy", "reason": "lunch"})),
        ("ready again", &ada, json!({"type": "resume", "user": "cy"})),
        (
            "on a call",
            &system,
            json!({"type": "interaction_started", "user": "cy", "channel": "sales", "interaction": "c1"}),
        ),
        ("in wrap-up", &system, json!({"type": "interaction_ended", "interaction": "c1"})),
    ];
    for (doing, by, change) in day {
        accepted(by, change).await;
        assert_eq!(answers().await, nowhere, "Sam learns that cy is {doing}");
    }
    // A sign-in on a channel in reach is decided as usual: then cy is in sight, and
    // refusals name channels again.
    accepted(&sam, json!({"type": "sign_in", "user": "cy", "channel": "support"})).await;
    let (status, body) = answer(&sam, json!({"type": "sign_out", "user": "cy", "channel": "sales"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("\"channels\":[\"sales\"]"), "{body}");
}
