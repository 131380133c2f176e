//! Every agent live (issue 26): a tenant's feeds on one host share one projector, and each
//! person's feed carries exactly what they see — their own changes, in order, once — and
//! resumes after `Last-Event-ID` with no gap and no duplicate.

mod common;

use std::time::Duration;

use common::{Server, post, start};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};

const AGENTS: usize = 40;

/// One message of a feed: its kind (`event`, `events`, `snapshot`), id and data.
#[derive(Debug, Clone)]
struct Message {
    kind: String,
    id: u64,
    data: Value,
}

/// An open feed, read message by message.
struct Feed {
    stream: futures_util::stream::BoxStream<'static, reqwest::Result<Vec<u8>>>,
    text: String,
}

impl Feed {
    async fn open(client: &reqwest::Client, server: &Server, token: &str, last: Option<u64>) -> Feed {
        let mut request = client.get(server.url("/api/tenants/center/events")).bearer_auth(token);
        if let Some(last) = last {
            request = request.header("last-event-id", last.to_string());
        }
        let response = request.send().await.expect("follows");
        assert_eq!(response.status(), StatusCode::OK);
        Feed { stream: response.bytes_stream().map(|chunk| chunk.map(|b| b.to_vec())).boxed(), text: String::new() }
    }

    /// The next message (keep-alive comments skipped); `None` after `wait` without one.
    async fn next(&mut self, wait: Duration) -> Option<Message> {
        loop {
            if let Some(end) = self.text.find("\n\n") {
                let block: String = self.text.drain(..end + 2).collect();
                let field = |name: &str| block.lines().find_map(|l| l.strip_prefix(name)).map(str::to_owned);
                let (Some(kind), Some(data)) = (field("event: "), field("data: ")) else { continue };
                let id = field("id: ").and_then(|v| v.parse().ok()).unwrap_or_default();
                return Some(Message { kind, id, data: serde_json::from_str(&data).unwrap_or(Value::Null) });
            }
            let chunk = tokio::time::timeout(wait, self.stream.next()).await.ok()??.expect("reads");
            self.text.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Every `event`/`events` message until none comes for `quiet` (`counts` and
    /// `snapshot` messages are read past).
    async fn events(&mut self, quiet: Duration) -> Vec<Message> {
        let mut got = Vec::new();
        while let Some(message) = self.next(quiet).await {
            if message.kind == "event" || message.kind == "events" {
                got.push(message);
            }
        }
        got
    }
}

fn agent(a: usize) -> String {
    format!("a{a:04}")
}

/// The users an `event` message (or each of an `events` message) is about.
fn about(message: &Message) -> Vec<String> {
    let events = match &message.data {
        Value::Array(many) => many.clone(),
        one => vec![one.clone()],
    };
    events.iter().filter_map(|e| e["user"].as_str().map(str::to_owned)).collect()
}

async fn gauge(client: &reqwest::Client, server: &Server, name: &str) -> f64 {
    let text = client.get(server.url("/metrics")).send().await.expect("gets").text().await.expect("text");
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_agent_live_shares_one_projector_and_sees_only_their_own() {
    let data = common::data();
    let generated = data
        .agentstate()
        .args(["tenant", "generate", "center", "--events", "0", "--agents", &AGENTS.to_string(), "--channels", "2"])
        .output()
        .expect("runs");
    assert!(generated.status.success(), "{}", String::from_utf8_lossy(&generated.stderr));
    // One token per agent, made in one call (a shift's tokens), one a line in their order.
    let mut create = data.agentstate();
    create.args(["token", "create", "--tenant", "center"]);
    for a in 0..AGENTS {
        create.args(["--user", &agent(a)]);
    }
    let made = create.output().expect("runs");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let tokens: Vec<String> = String::from_utf8_lossy(&made.stdout).lines().map(str::to_owned).collect();
    assert_eq!(tokens.len(), AGENTS);
    let supervisor = data.token("center", "s00");
    let server = start(&data, &["--rate-limit", "100000"]);
    let client = reqwest::Client::new();

    let mut feeds = Vec::new();
    for token in &tokens {
        feeds.push(Feed::open(&client, &server, token, None).await);
    }
    let mut watching = Feed::open(&client, &server, &supervisor, None).await;
    // Give the feeds a moment to be subscribed (each is, before its first message).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(gauge(&client, &server, "agentstate_projectors").await, 1.0, "one projector for the tenant");

    for (a, token) in tokens.iter().enumerate() {
        let (user, channel) = (agent(a), format!("q{:02}", a % 2));
        for command in [
            json!({"type": "sign_in", "user": user, "channel": channel}),
            json!({"type": "pause", "user": user, "channel": channel, "reason": "lunch"}),
            json!({"type": "resume", "user": user, "channel": channel}),
        ] {
            let (status, answer) = post(&client, &server, "center", token, command).await;
            assert_eq!(status, StatusCode::OK, "{answer}");
        }
    }

    let mut firsts = Vec::new();
    let quiet = Duration::from_millis(1500);
    let all = futures_util::future::join_all(feeds.iter_mut().map(|feed| feed.events(quiet))).await;
    for (a, got) in all.into_iter().enumerate() {
        assert_eq!(got.len(), 3, "{}: {got:?}", agent(a));
        assert!(got.iter().all(|m| about(m) == [agent(a)]), "{} saw someone else: {got:?}", agent(a));
        assert!(got.windows(2).all(|w| w[0].id < w[1].id), "in order, once: {got:?}");
        firsts.push(got[0].id);
    }
    // The supervisor of q00 sees the agents of q00 (even numbers), and no one else.
    let seen = watching.events(Duration::from_millis(1500)).await;
    assert_eq!(seen.len(), AGENTS / 2 * 3, "{seen:?}");
    assert!(seen.iter().flat_map(about).all(|u| u[1..].parse::<usize>().is_ok_and(|n| n % 2 == 0)), "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0].id < w[1].id));

    // A reconnect after the first event starts from what the agent sees now (a snapshot as
    // of the log's end: no gap) and goes on from there, nothing twice.
    let mut again = Feed::open(&client, &server, &tokens[7], Some(firsts[7])).await;
    let opening = again.next(Duration::from_secs(5)).await.expect("a first message");
    assert_eq!(opening.kind, "snapshot", "{opening:?}");
    let end = opening.data["seq"].as_u64().expect("seq");
    assert_eq!((opening.id, end), ((AGENTS * 3) as u64, (AGENTS * 3) as u64), "as of the log's end");
    let users = opening.data["state"]["users"].as_object().expect("users");
    assert_eq!(users.keys().collect::<Vec<_>>(), [&agent(7)], "only themselves");
    assert!(users[&agent(7)]["sign_ins"]["q01"]["pause"].is_null(), "resumed: {opening:?}");
    let (status, _) =
        post(&client, &server, "center", &tokens[7], json!({"type": "sign_out", "user": agent(7), "channel": "q01"}))
            .await;
    assert_eq!(status, StatusCode::OK);
    let rest = again.events(Duration::from_millis(1500)).await;
    assert_eq!(rest.len(), 1, "{rest:?}");
    assert!(rest[0].id == end + 1 && about(&rest[0]) == [agent(7)], "{rest:?}");

    // A colleague's change reaches an agent as counts, not as the colleague's event: a new
    // feed first gets the team's counts, then new counts once a colleague pauses.
    let mut counts_of_a2 = Feed::open(&client, &server, &tokens[2], None).await;
    let mut first = counts_of_a2.next(Duration::from_secs(5)).await.expect("a snapshot");
    assert_eq!(first.kind, "snapshot", "a new client first gets what it sees: {first:?}");
    first = counts_of_a2.next(Duration::from_secs(5)).await.expect("the counts");
    assert_eq!(first.kind, "counts", "{first:?}");
    assert_eq!(first.data[0]["channel"], "q00");
    assert_eq!(first.data[0]["counts"]["available"], AGENTS / 2, "{first:?}");
    let pause = json!({"type": "pause", "user": agent(4), "channel": "q00", "reason": "lunch"});
    let (status, _) = post(&client, &server, "center", &tokens[4], pause).await;
    assert_eq!(status, StatusCode::OK);
    let next = counts_of_a2.next(Duration::from_secs(5)).await.expect("new counts within seconds");
    assert_eq!(next.kind, "counts", "only counts, never a colleague's event: {next:?}");
    assert_eq!(
        (&next.data[0]["counts"]["available"], &next.data[0]["counts"]["paused"]),
        (&json!(AGENTS / 2 - 1), &json!(1))
    );

    // Once every feed is gone, so is the projector.
    drop((feeds, watching, again, counts_of_a2));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while gauge(&client, &server, "agentstate_projectors").await > 0.0 {
        assert!(std::time::Instant::now() < deadline, "the projector outlived its feeds");
        // A stored event wakes the projector, which then finds nobody to serve.
        post(&client, &server, "center", &tokens[0], json!({"type": "sign_out", "user": agent(0), "channel": "q00"}))
            .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
