//! The store suite, run against both backends (SQLite, and PostgreSQL in a private
//! cluster): per-tenant sequences, appends conditional on where the log ends, idempotent
//! outcomes, snapshots, append-only events, tokens, and durability of every acknowledged
//! append across a SIGKILL of the writer.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use agentstate_server::store::{Store, StoreConfig, StoreError, TokenGrant, TokenSelector};
use agentstate_testkit::PgCluster;

fn event(n: u64) -> String {
    format!(r#"{{"at":{n},"by":"system","type":"plan_set","plan":"basic"}}"#)
}

fn open(place: &StoreConfig) -> Box<dyn Store> {
    place.open().expect("opens the store")
}

/// Gives a new, empty store each call.
type Fresh<'a> = &'a dyn Fn() -> StoreConfig;

fn sequences_are_per_tenant_and_outcomes_answer_retries(fresh: Fresh<'_>) {
    let mut store = open(&fresh());
    store.create_tenant("acme", "{}").expect("creates");
    store.create_tenant("globex", "{}").expect("creates");
    assert!(matches!(store.create_tenant("acme", "{}"), Err(StoreError::TenantExists(_))));
    assert_eq!(store.tenants().expect("lists"), ["acme", "globex"]);

    assert_eq!(store.append("acme", 0, Some("c1"), "first", &[event(1), event(2)]).expect("appends"), 2);
    assert_eq!(store.append("globex", 0, None, "x", &[event(1)]).expect("appends"), 1);
    assert_eq!(store.append("acme", 2, Some("c2"), "rejected, no events", &[]).expect("appends"), 2);
    assert_eq!(store.append("acme", 2, None, "third", &[event(3)]).expect("appends"), 3);

    assert_eq!(store.outcome("acme", "", "c1").expect("reads").as_deref(), Some("first"));
    assert_eq!(store.outcome("acme", "", "c2").expect("reads").as_deref(), Some("rejected, no events"));
    assert_eq!(store.outcome("globex", "", "c1").expect("reads"), None, "ids are per tenant");
    let found = store.outcomes("acme", &["c1", "c2", "c9"]).expect("reads");
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found.get("c2").map(|o| o[0].outcome.as_str()), Some("rejected, no events"));
    assert!(matches!(store.outcome("nobody", "", "c1"), Err(StoreError::UnknownTenant(_))));
    // Both stores answer an unknown tenant alike, whatever the ids asked for (they once
    // differed: PostgreSQL answered nothing found).
    assert!(matches!(store.outcomes("nobody", &["c1"]), Err(StoreError::UnknownTenant(_))));
    assert!(matches!(store.outcomes("nobody", &[]), Err(StoreError::UnknownTenant(_))));
    assert!(
        matches!(store.append("acme", 3, Some("c1"), "again", &[event(4)]), Err(StoreError::Conflict(_))),
        "an id is decided once"
    );
    assert_eq!(store.last_seq("acme").expect("reads"), 3, "the refused append stored nothing");
    assert!(matches!(store.append("nobody", 0, None, "", &[event(1)]), Err(StoreError::UnknownTenant(_))));

    let tail = store.events_after("acme", 1, 10).expect("reads");
    assert_eq!(tail, vec![(2, event(2)), (3, event(3))]);
    assert!(matches!(store.events_after("nobody", 0, 10), Err(StoreError::UnknownTenant(_))));
    store.ping().expect("answers");
}

fn signed_in(at: u64, user: &str) -> String {
    format!(r#"{{"at":{at},"by":"{user}","type":"signed_in","user":"{user}","channel":"sales"}}"#)
}

fn monitoring(at: u64, user: &str, supervisor: &str) -> String {
    format!(
        r#"{{"at":{at},"by":"{supervisor}","type":"monitoring_started","user":"{user}","supervisor":"{supervisor}","interaction":"i{at}","mode":"listen"}}"#
    )
}

/// A user's history is read newest first, a page at a time, through the index of the
/// events that touch each user — the supervisor of a monitoring too — per tenant; a prune
/// takes the index entries with their events.
fn a_users_history_is_read_a_page_at_a_time_through_its_index(fresh: Fresh<'_>) {
    let mut store = open(&fresh());
    store.create_tenant("acme", "{}").expect("creates");
    store.create_tenant("globex", "{}").expect("creates");
    let log = [signed_in(1, "ana"), signed_in(2, "ben"), monitoring(3, "ana", "sam"), signed_in(4, "ana"), event(5)];
    store.append("acme", 0, None, "", &log).expect("appends");
    store.append("globex", 0, None, "", &[signed_in(1, "ana")]).expect("appends");
    let seqs = |page: Vec<(u64, String)>| page.into_iter().map(|(seq, _)| seq).collect::<Vec<_>>();
    assert_eq!(seqs(store.history("acme", "ana", u64::MAX, 10).expect("reads")), [4, 3, 1]);
    assert_eq!(seqs(store.history("acme", "ana", u64::MAX, 2).expect("reads")), [4, 3], "a page");
    assert_eq!(seqs(store.history("acme", "ana", 3, 2).expect("reads")), [1], "the page before event 3");
    assert_eq!(seqs(store.history("acme", "sam", u64::MAX, 10).expect("reads")), [3], "the monitoring supervisor");
    assert_eq!(store.history("acme", "ana", u64::MAX, 10).expect("reads")[1].1, log[2], "the event as stored");
    assert_eq!(seqs(store.history("globex", "ana", u64::MAX, 10).expect("reads")), [1], "per tenant");
    assert!(store.history("acme", "nobody", u64::MAX, 10).expect("reads").is_empty());
    assert!(matches!(store.history("nobody", "ana", u64::MAX, 10), Err(StoreError::UnknownTenant(_))));

    let base = agentstate_server::store::LogBase { seq: 3, at: 4 };
    store.rebase("acme", 0, base, "{}").expect("prunes");
    assert_eq!(seqs(store.history("acme", "ana", u64::MAX, 10).expect("reads")), [4], "pruned with its events");
    assert!(store.history("acme", "sam", u64::MAX, 10).expect("reads").is_empty());
    store.append("acme", 5, None, "", &[signed_in(6, "sam")]).expect("appends");
    assert_eq!(seqs(store.history("acme", "sam", u64::MAX, 10).expect("reads")), [6]);
}

/// A history page is the same however much of the log the index has filed yet: over a log
/// that grows past several filing batches an append at a time and a few hundred at a time,
/// every page — from the newest, from any event, a page of one and of many — is exactly the
/// user's events read from the log itself, across a prune too.
fn a_history_page_is_the_log_filtered_whatever_the_index_has_filed(fresh: Fresh<'_>) {
    let mut store = open(&fresh());
    store.create_tenant("acme", "{}").expect("creates");
    let people = ["ana", "ben", "cy", "sam"];
    let nth = |n: u64| match n % 7 {
        0 => monitoring(n, people[(n / 7 % 3) as usize], "sam"),
        3 => event(n),
        _ => signed_in(n, people[(n % 3) as usize]),
    };
    let mut end = 0;
    let check = |store: &dyn Store, end: u64, from: u64| {
        let log = store.events_after("acme", from, usize::MAX).expect("reads");
        for user in people {
            let theirs: Vec<u64> = log
                .iter()
                .rev()
                .filter(|(_, e)| {
                    e.contains(&format!(r#""user":"{user}""#)) || e.contains(&format!(r#""supervisor":"{user}""#))
                })
                .map(|(seq, _)| *seq)
                .collect();
            for before in [u64::MAX, end + 1, end, end / 2 + 1, 2, 1, 0] {
                for limit in [1, 10, 5_000] {
                    let page: Vec<u64> = store
                        .history("acme", user, before, limit)
                        .expect("reads")
                        .into_iter()
                        .map(|(s, _)| s)
                        .collect();
                    let expected: Vec<u64> = theirs.iter().copied().filter(|s| *s < before).take(limit).collect();
                    assert_eq!(page, expected, "{user} before {before}, {limit} at most, log ending at {end}");
                }
            }
        }
    };
    for n in 1..=1_500u64 {
        store.append("acme", end, None, "", &[nth(n)]).expect("appends");
        end = n;
        if n % 500 == 0 || n == 1_023 || n == 1_024 || n == 1_025 {
            check(&*store, end, 0);
        }
    }
    for _ in 0..4 {
        let batch: Vec<String> = (end + 1..=end + 700).map(nth).collect();
        store.append("acme", end, None, "", &batch).expect("appends");
        end += 700;
        check(&*store, end, 0);
    }
    let base = agentstate_server::store::LogBase { seq: 2_000, at: 2_001 };
    store.rebase("acme", 0, base, "{}").expect("prunes");
    check(&*store, end, 2_000);
}

/// A command id belongs to the actor who sent it: its stored outcome says whose it is, and
/// no one else's command stores it again. An outcome stored before ids had owners (no
/// actor) answers anyone.
fn outcomes_say_whose_id_they_are(fresh: Fresh<'_>) {
    use agentstate_server::store::{Append, StoredOutcome};
    let place = fresh();
    let mut store = open(&place);
    store.create_tenant("acme", "{}").expect("creates");
    let by = |id, actor, outcome, events| Append {
        tenant: "acme",
        expected: 0,
        command_id: Some(id),
        actor,
        outcome,
        events,
    };
    let ana = [event(1)];
    store.append_all(&[by("c1", "ana", "ana's", &ana), by("c2", "sam", "sam's", &[])]).expect("appends");
    store.append("acme", 1, Some("legacy"), "from before", &[]).expect("appends");
    forget_actor(&place, "legacy");
    let found = store.outcomes("acme", &["c1", "c2", "legacy", "c9"]).expect("reads");
    assert_eq!(found.len(), 3, "{found:?}");
    assert_eq!(found["c1"], [StoredOutcome { outcome: "ana's".into(), actor: Some("ana".into()), log_end: Some(0) }]);
    assert_eq!(found["c2"][0].actor.as_deref(), Some("sam"));
    assert!(found["c1"][0].belongs_to("ana") && !found["c1"][0].belongs_to("sam"));
    let legacy = &found["legacy"][0];
    assert!(legacy.actor.is_none() && legacy.belongs_to("ana") && legacy.belongs_to("sam"), "{legacy:?}");
    assert!(store.outcomes("acme", &[]).expect("reads").is_empty());
    // A command id is its actor's own: another actor's command with it is stored beside
    // it; the same actor's again is a conflict (a retry racing its first on two hosts).
    store.append_all(&[Append { expected: 1, ..by("c1", "sam", "sam's", &[]) }]).expect("appends");
    let again = Append { expected: 1, ..by("c1", "ana", "ana's again", &[]) };
    assert!(matches!(store.append_all(&[again]), Err(StoreError::Conflict(_))));
    assert_eq!(store.outcome("acme", "ana", "c1").expect("reads").as_deref(), Some("ana's"));
    assert_eq!(store.outcome("acme", "sam", "c1").expect("reads").as_deref(), Some("sam's"));
    assert_eq!(store.outcomes("acme", &["c1"]).expect("reads")["c1"].len(), 2);
    assert_eq!(store.last_seq("acme").expect("reads"), 1);
}

/// Makes a stored outcome look as one stored before the `actor` column existed.
fn forget_actor(place: &StoreConfig, id: &str) {
    let sql = "UPDATE commands SET actor = '' WHERE id = ";
    match place {
        StoreConfig::Sqlite(dir) => {
            let db = rusqlite::Connection::open(dir.join(agentstate_server::store::DB_FILE)).expect("opens");
            db.execute(&format!("{sql}?1"), [id]).expect("updates");
        }
        StoreConfig::Postgres(url) => {
            let mut db = postgres::Client::connect(url, postgres::NoTls).expect("connects");
            db.execute(&format!("{sql}$1"), &[&id]).expect("updates");
        }
    }
}

/// Two hosts on one store: each append names where its host read the log to end, and only
/// the first of two racing appends is stored — whole, with nothing of the other.
fn appends_are_conditional_on_where_the_log_ends(fresh: Fresh<'_>) {
    let place = fresh();
    let (mut host_a, mut host_b) = (open(&place), open(&place));
    host_a.create_tenant("acme", "{}").expect("creates");
    host_a.create_tenant("globex", "{}").expect("creates");
    assert_eq!(host_a.append("acme", 0, Some("a1"), "ok", &[event(1), event(2)]).expect("appends"), 2);
    // Host B decided on the empty log: refused, and nothing of its group is stored, not
    // even its other tenant's command.
    let group = [
        agentstate_server::store::Append {
            tenant: "globex",
            expected: 0,
            command_id: None,
            actor: "",
            outcome: "",
            events: &[event(1)],
        },
        agentstate_server::store::Append {
            tenant: "acme",
            expected: 0,
            command_id: Some("b1"),
            actor: "",
            outcome: "ok",
            events: &[event(9)],
        },
    ];
    assert!(matches!(host_b.append_all(&group), Err(StoreError::Conflict(t)) if t == "acme"));
    assert_eq!(host_b.last_seq("globex").expect("reads"), 0, "all or nothing");
    assert_eq!(host_b.outcome("acme", "", "b1").expect("reads"), None);
    assert_eq!(host_b.events_after("acme", 0, 10).expect("reads"), vec![(1, event(1)), (2, event(2))]);
    // Caught up, it appends after what A stored; a second command of the same tenant in
    // the group follows on from the first.
    let group = [
        agentstate_server::store::Append {
            tenant: "acme",
            expected: 2,
            command_id: Some("b1"),
            actor: "",
            outcome: "ok",
            events: &[event(3)],
        },
        agentstate_server::store::Append {
            tenant: "acme",
            expected: 3,
            command_id: None,
            actor: "",
            outcome: "ok",
            events: &[event(4)],
        },
    ];
    assert_eq!(host_b.append_all(&group).expect("appends"), [3, 4]);
    // The same command id sent to both hosts is stored once: the second is a conflict.
    assert!(
        matches!(host_a.append("acme", 4, Some("b1"), "other", &[event(5)]), Err(StoreError::Conflict(t)) if t == "acme")
    );
    assert_eq!(host_a.outcome("acme", "", "b1").expect("reads").as_deref(), Some("ok"));
    assert_eq!(host_a.last_seq("acme").expect("reads"), 4);
}

fn snapshots_and_the_log_survive_reopening_and_events_cannot_be_rewritten(fresh: Fresh<'_>) {
    let place = fresh();
    {
        let mut store = open(&place);
        store.create_tenant("acme", r#"{"plan":"basic"}"#).expect("creates");
        store.append("acme", 0, None, "", &[event(1), event(2)]).expect("appends");
        store.put_snapshot("acme", 2, "state@2").expect("snapshots");
        store.put_snapshot("acme", 2, "state@2").expect("a second host storing the same snapshot is no error");
        store.append("acme", 2, None, "", &[event(3)]).expect("appends");
    }
    let store = open(&place);
    assert_eq!(store.description("acme").expect("reads"), r#"{"plan":"basic"}"#);
    assert_eq!(store.latest_snapshot("acme").expect("reads"), Some((2, "state@2".to_owned())));
    assert_eq!(store.events_after("acme", 2, 100).expect("reads"), vec![(3, event(3))]);

    match &place {
        StoreConfig::Sqlite(dir) => {
            let raw = rusqlite::Connection::open(dir.join(agentstate_server::store::DB_FILE)).expect("opens");
            assert!(raw.execute("UPDATE events SET event = 'forged' WHERE seq = 1", []).is_err());
            assert!(raw.execute("DELETE FROM events", []).is_err());
        }
        StoreConfig::Postgres(url) => {
            let mut raw = postgres::Client::connect(url, postgres::NoTls).expect("connects");
            assert!(raw.execute("UPDATE events SET event = 'forged' WHERE seq = 1", &[]).is_err());
            assert!(raw.execute("DELETE FROM events", &[]).is_err());
        }
    }
    assert_eq!(store.events_after("acme", 0, 100).expect("reads").len(), 3);
}

fn tokens_are_revoked_by_user_or_by_fingerprint_and_only_in_their_tenant(fresh: Fresh<'_>) {
    let mut store = open(&fresh());
    store.create_tenant("acme", "{}").expect("creates");
    store.create_tenant("globex", "{}").expect("creates");
    let grant = |tenant: &str, actor: &str| TokenGrant { tenant: tenant.to_owned(), actor: actor.to_owned() };
    for (hash, tenant, actor) in [
        ("aaaa1111", "acme", "ana"),
        ("aaaa2222", "acme", "ana"),
        ("bbbb1111", "acme", "sam"),
        ("bbbb2222", "acme", "system"),
        ("cccc1111", "globex", "ana"),
    ] {
        store.put_token(hash, &grant(tenant, actor)).expect("stores");
    }
    assert!(matches!(store.put_token("dddd", &grant("nobody", "ana")), Err(StoreError::UnknownTenant(_))));
    assert_eq!(
        store.tokens_of("acme").expect("lists"),
        [("aaaa1111", "ana"), ("aaaa2222", "ana"), ("bbbb1111", "sam"), ("bbbb2222", "system")]
            .map(|(h, a)| (h.to_owned(), a.to_owned()))
    );

    // Every token of a user, in this tenant only.
    assert_eq!(store.revoke_tokens("acme", TokenSelector::Actor("ana")).expect("revokes"), 2);
    assert_eq!(store.token("aaaa1111").expect("reads"), None);
    assert_eq!(store.token("cccc1111").expect("reads"), Some(grant("globex", "ana")), "another tenant's ana");

    // One token by its fingerprint; one that fits two revokes neither; another tenant's
    // fingerprint fits nothing here.
    assert!(matches!(store.revoke_tokens("acme", TokenSelector::Fingerprint("bbbb")), Err(StoreError::Ambiguous(_))));
    assert_eq!(store.tokens_of("acme").expect("lists").len(), 2, "an ambiguous fingerprint revoked nothing");
    assert_eq!(store.revoke_tokens("acme", TokenSelector::Fingerprint("cccc1111")).expect("revokes"), 0);
    assert_eq!(store.revoke_tokens("acme", TokenSelector::Fingerprint("BBBB2")).expect("revokes"), 1);
    assert_eq!(store.token("bbbb2222").expect("reads"), None);
    assert_eq!(store.token("bbbb1111").expect("reads"), Some(grant("acme", "sam")));
    assert!(matches!(store.revoke_tokens("nobody", TokenSelector::Actor("ana")), Err(StoreError::UnknownTenant(_))));
}

/// Sessions and sign-in links, the same on both stores (their code is written once): a
/// session speaks for its token until it expires, ends or the token is revoked; a token
/// keeps its newest sessions only; a link is used once, before it expires.
fn sessions_and_links_live_as_long_as_their_token(fresh: Fresh<'_>) {
    use agentstate_server::store::MAX_SESSIONS_PER_TOKEN;
    let mut store = open(&fresh());
    store.create_tenant("acme", "{}").expect("creates");
    let ana = TokenGrant { tenant: "acme".to_owned(), actor: "ana".to_owned() };
    store.put_token("aaaa1111", &ana).expect("stores");
    store.put_token("bbbb1111", &TokenGrant { actor: "sam".to_owned(), ..ana.clone() }).expect("stores");
    // Expiry times far ahead of the clock that clears expired rows; `now` is asked for.
    let (now, later) = (1_000, 4_000_000_000_000);

    assert_eq!(store.put_session("s-first", "aaaa1111", later).expect("stores"), Vec::<String>::new());
    assert_eq!(store.session("s-first", now).expect("reads"), Some((ana.clone(), "aaaa1111".to_owned())));
    assert_eq!(store.session("s-first", later).expect("reads"), None, "expired");
    assert_eq!(store.session("s-none", now).expect("reads"), None);
    // Later sessions push the oldest out, one token at a time.
    // Later sessions push the oldest out, one token at a time, and say which they ended
    // (a host forgets those at once).
    let mut ended = Vec::new();
    for n in 0..MAX_SESSIONS_PER_TOKEN {
        ended.extend(store.put_session(&format!("s-{n}"), "aaaa1111", later + 1 + n as u64).expect("stores"));
    }
    assert_eq!(ended, ["s-first"]);
    store.put_session("s-sam", "bbbb1111", later).expect("stores");
    assert_eq!(store.session("s-first", now).expect("reads"), None, "the oldest of too many sessions ended");
    assert!(store.session("s-0", now).expect("reads").is_some());
    assert!(store.session("s-sam", now).expect("reads").is_some(), "another token's sessions stay");
    assert!(store.end_session("s-0").expect("ends"));
    assert!(!store.end_session("s-0").expect("ends"), "ended once");
    assert_eq!(store.session("s-0", now).expect("reads"), None);

    store.put_link("l-1", "aaaa1111", later).expect("stores");
    store.put_link("l-2", "aaaa1111", later).expect("stores");
    assert_eq!(store.take_link("l-1", later).expect("takes"), None, "expired");
    assert_eq!(store.take_link("l-2", now).expect("takes").as_deref(), Some("aaaa1111"));
    assert_eq!(store.take_link("l-2", now).expect("takes"), None, "used up");

    // Revoking the token ends its sessions and voids its links.
    store.put_link("l-3", "aaaa1111", later).expect("stores");
    assert_eq!(store.revoke_tokens("acme", TokenSelector::Actor("ana")).expect("revokes"), 1);
    assert_eq!(store.session("s-1", now).expect("reads"), None);
    assert_eq!(store.take_link("l-3", now).expect("takes"), None);
    assert!(store.session("s-sam", now).expect("reads").is_some());
    // A fingerprint is data, never a pattern.
    assert_eq!(store.revoke_tokens("acme", TokenSelector::Fingerprint("%")).expect("revokes"), 0);
    assert_eq!(store.revoke_tokens("acme", TokenSelector::Fingerprint("____")).expect("revokes"), 0);
    assert!(matches!(store.tokens_of("nobody"), Err(StoreError::UnknownTenant(_))));
}

fn single_sign_on_keeps_its_provider_its_sign_ins_once_and_a_token_per_person(fresh: Fresh<'_>) {
    use agentstate_server::store::{SsoProvider, SsoSignIn};
    let mut store = open(&fresh());
    store.create_tenant("acme", "{}").expect("creates");
    store.create_tenant("globex", "{}").expect("creates");
    let provider = SsoProvider {
        issuer: "https://idp.example".into(),
        client_id: "c".into(),
        client_secret: "s".into(),
        redirect_uri: "https://cc.example/signin/acme/callback".into(),
        claim: "email".into(),
        name: "Acme".into(),
    };
    assert_eq!(store.sso_provider("acme").expect("reads"), None);
    store.put_sso_provider("acme", &provider).expect("stores");
    let replaced = SsoProvider { name: "Acme Login".into(), ..provider.clone() };
    store.put_sso_provider("acme", &replaced).expect("replaces");
    assert_eq!(store.sso_provider("acme").expect("reads"), Some(replaced));
    assert_eq!(store.sso_provider("globex").expect("reads"), None, "one tenant's provider only");
    assert!(matches!(store.put_sso_provider("nobody", &provider), Err(StoreError::UnknownTenant(_))));

    // A sign-in under way is taken once, and not after it expired.
    let (now, later) = (1_000, 4_000_000_000_000);
    let sign_in = |expires| SsoSignIn {
        tenant: "acme".into(),
        browser: "b".into(),
        nonce: "n".into(),
        verifier: "v".into(),
        expires,
    };
    assert!(store.put_sso_sign_in("st-1", &sign_in(later), now).expect("stores"));
    assert!(store.put_sso_sign_in("st-2", &sign_in(now + 10), now).expect("stores"));
    assert_eq!(store.take_sso_sign_in("st-1", now).expect("takes"), Some(sign_in(later)));
    assert_eq!(store.take_sso_sign_in("st-1", now).expect("takes"), None, "used up");
    assert_eq!(store.take_sso_sign_in("st-2", now + 10).expect("takes"), None, "expired");
    assert_eq!(store.take_sso_sign_in("st-none", now).expect("takes"), None);

    // A person's token stands until revoked; then none is found, and a new one replaces it.
    let ana = TokenGrant { tenant: "acme".to_owned(), actor: "ana".to_owned() };
    store.put_token("t-ana", &ana).expect("stores");
    store.put_sso_token("acme", "ana", "t-ana").expect("stores");
    assert_eq!(store.sso_token("acme", "ana").expect("reads").as_deref(), Some("t-ana"));
    assert_eq!(store.sso_token("globex", "ana").expect("reads"), None);
    store.revoke_tokens("acme", TokenSelector::Actor("ana")).expect("revokes");
    assert_eq!(store.sso_token("acme", "ana").expect("reads"), None, "revoked with the user's tokens");
    store.put_token("t-ana-2", &ana).expect("stores");
    store.put_sso_token("acme", "ana", "t-ana-2").expect("stores");
    assert_eq!(store.sso_token("acme", "ana").expect("reads").as_deref(), Some("t-ana-2"));
    assert!(store.remove_sso_provider("acme").expect("removes"));
    assert!(!store.remove_sso_provider("acme").expect("removes"), "removed once");
}

/// In the child: appends one event at a time forever, printing each sequence number once
/// its append has returned (is acknowledged). Not a test on its own.
#[test]
#[ignore = "the writer process of every_acknowledged_append_survives_a_sigkill"]
fn child_writer() {
    let place = std::env::var("AGENTSTATE_STORE_CHILD").expect("run by the SIGKILL test");
    let place = match place.split_once(':') {
        Some(("sqlite", dir)) => StoreConfig::Sqlite(dir.into()),
        _ => StoreConfig::Postgres(place),
    };
    let mut store = open(&place);
    store.create_tenant("acme", "{}").expect("creates");
    for n in 1.. {
        let seq = store.append("acme", n - 1, Some(&format!("c{n}")), "ok", &[event(n)]).expect("appends");
        println!("acked {seq}");
    }
}

fn every_acknowledged_append_survives_a_sigkill(fresh: Fresh<'_>) {
    let place = fresh();
    let child_place = match &place {
        StoreConfig::Sqlite(dir) => format!("sqlite:{}", dir.display()),
        StoreConfig::Postgres(url) => url.clone(),
    };
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "child_writer", "--ignored", "--nocapture", "--test-threads", "1"])
        .env("AGENTSTATE_STORE_CHILD", child_place)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns");
    let mut acked = 0;
    for line in BufReader::new(child.stdout.take().expect("stdout")).lines() {
        if let Some(seq) = line.expect("reads").strip_prefix("acked ") {
            acked = seq.parse().expect("a number");
            if acked >= 200 {
                break;
            }
        }
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    assert!(acked >= 200, "the writer acknowledged only {acked}");
    let store = open(&place);
    let last = store.last_seq("acme").expect("reads");
    assert!(last >= acked, "acknowledged {acked}, found only {last}");
    let events = store.events_after("acme", 0, usize::MAX).expect("reads");
    assert_eq!(events.len() as u64, last, "no gaps");
    assert!(events.iter().enumerate().all(|(i, (seq, e))| *seq == i as u64 + 1 && *e == event(*seq)));
    assert_eq!(store.outcome("acme", "", &format!("c{acked}")).expect("reads").as_deref(), Some("ok"));
}

/// Appends without a lock taken first (`optimistic`): the host's belief of where a log
/// ends is checked by the append itself — a stale belief, an unknown tenant or an id stored
/// before stores nothing; and four hosts racing on one tenant, each appending on what it
/// last read and deciding again when refused, leave a gapless log with every acknowledged
/// command in it exactly once, even when they all send the same ids (retries sent to
/// every host).
fn optimistic_appends_store_only_on_a_true_belief(fresh: Fresh<'_>) {
    let place = fresh();
    let mut store = open(&place);
    store.create_tenant("acme", "{}").expect("creates");
    store.append("acme", 0, Some("first"), "ok", &[event(1)]).expect("appends");
    let one = |tenant: &'static str, expected: u64, id: &'static str| {
        let events = [event(expected + 1)];
        let mut seen_end = None;
        let mut outcome = None;
        let result = open(&place).optimistic(&[(tenant, expected)], &mut |log| {
            seen_end = log.log_end(tenant);
            outcome = Some(log.append_all(&[agentstate_server::store::Append {
                tenant,
                expected,
                command_id: Some(id),
                actor: "",
                outcome: "ok",
                events: &events,
            }]));
            Ok(())
        });
        result.expect("the work ran");
        (seen_end, outcome.expect("appended"))
    };
    let (_, stale) = one("acme", 0, "late");
    assert!(matches!(&stale, Err(StoreError::Conflict(t)) if t == "acme"), "{stale:?}");
    let (_, unknown) = one("nobody", 0, "x");
    assert!(matches!(&unknown, Err(StoreError::UnknownTenant(t)) if t == "nobody"), "{unknown:?}");
    let (_, again) = one("acme", 1, "first");
    assert!(matches!(&again, Err(StoreError::Conflict(t)) if t == "acme"), "{again:?}");
    assert_eq!(store.events_after("acme", 0, 10).expect("reads"), vec![(1, event(1))], "nothing of the refused");
    assert_eq!(store.outcome("acme", "", "late").expect("reads"), None);
    let (seen_end, stored) = one("acme", 1, "second");
    assert!(seen_end.is_none() || seen_end == Some(1), "the belief or the log's end: {seen_end:?}");
    assert_eq!(stored.expect("stores"), [2]);

    const EACH: usize = 60;
    let acknowledged: Vec<Vec<(String, u64)>> = std::thread::scope(|scope| {
        let hosts: Vec<_> = (0..4)
            .map(|host| {
                let place = &place;
                scope.spawn(move || {
                    let mut store = open(place);
                    let mut acked = Vec::new();
                    for n in 0..EACH {
                        // Every second id is sent to every host, the rest to this one.
                        let id = if n % 2 == 0 { format!("shared-{n}") } else { format!("h{host}-{n}") };
                        loop {
                            let expected = store.last_seq("acme").expect("reads");
                            let events = [event(expected + 1)];
                            let mut result = None;
                            let run = store.optimistic(&[("acme", expected)], &mut |log| {
                                result = Some(log.append_all(&[agentstate_server::store::Append {
                                    tenant: "acme",
                                    expected,
                                    command_id: Some(&id),
                                    actor: "",
                                    outcome: "ok",
                                    events: &events,
                                }]));
                                Ok(())
                            });
                            match (run, result) {
                                (Ok(()), Some(Ok(seqs))) => {
                                    acked.push((id.clone(), seqs[0]));
                                    break;
                                }
                                (_, Some(Err(StoreError::Conflict(_)))) | (Err(StoreError::Conflict(_)), _) => {
                                    if store.outcome("acme", "", &id).expect("reads").is_some() {
                                        break; // another host stored it: its answer stands
                                    }
                                }
                                other => panic!("host {host}: {other:?}"),
                            }
                        }
                    }
                    acked
                })
            })
            .collect();
        hosts.into_iter().map(|h| h.join().expect("a host")).collect()
    });
    let events = store.events_after("acme", 0, usize::MAX).expect("reads");
    assert!(events.iter().enumerate().all(|(i, (seq, e))| *seq == i as u64 + 1 && *e == event(*seq)), "gapless");
    let mut acked: Vec<(String, u64)> = acknowledged.into_iter().flatten().collect();
    acked.sort();
    let ids: std::collections::BTreeSet<&str> = acked.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids.len(), acked.len(), "an id acknowledged twice: {acked:?}");
    // Two seeded, then one event per stored id: 30 shared ids once, 4 × 30 own ids.
    assert_eq!(acked.len(), EACH / 2 + 4 * EACH / 2);
    assert_eq!(events.len(), 2 + acked.len(), "one event per acknowledged command, none else");
    assert!(acked.iter().all(|(_, seq)| *seq > 2 && *seq as usize <= events.len()));
}

/// One case of the suite: its name, and the check given a maker of fresh stores.
type Case = (&'static str, fn(Fresh<'_>));

const SUITE: &[Case] = &[
    ("sequences", sequences_are_per_tenant_and_outcomes_answer_retries),
    ("whose ids", outcomes_say_whose_id_they_are),
    ("conditional appends", appends_are_conditional_on_where_the_log_ends),
    ("optimistic appends", optimistic_appends_store_only_on_a_true_belief),
    ("snapshots and append-only", snapshots_and_the_log_survive_reopening_and_events_cannot_be_rewritten),
    ("history index", a_users_history_is_read_a_page_at_a_time_through_its_index),
    ("history filed in batches", a_history_page_is_the_log_filtered_whatever_the_index_has_filed),
    ("tokens", tokens_are_revoked_by_user_or_by_fingerprint_and_only_in_their_tenant),
    ("sessions and links", sessions_and_links_live_as_long_as_their_token),
    ("single sign-on", single_sign_on_keeps_its_provider_its_sign_ins_once_and_a_token_per_person),
    ("SIGKILL", every_acknowledged_append_survives_a_sigkill),
];

#[test]
fn the_sqlite_store_passes_the_suite() {
    let root = tempfile::tempdir().expect("tempdir");
    let count = std::cell::Cell::new(0);
    let fresh = || {
        count.set(count.get() + 1);
        StoreConfig::Sqlite(root.path().join(format!("store-{}", count.get())))
    };
    for (name, case) in SUITE {
        eprintln!("sqlite: {name}");
        case(&fresh);
    }
}

/// A store written before the history index existed gets its old events indexed when it
/// opens (here: the index emptied by hand and the tenant marked as not indexed, as the
/// migration marks every tenant that has events).
#[test]
fn the_events_stored_before_the_history_index_are_indexed_when_the_store_opens() {
    let root = tempfile::tempdir().expect("tempdir");
    let place = StoreConfig::Sqlite(root.path().to_owned());
    let mut store = open(&place);
    store.create_tenant("acme", "{}").expect("creates");
    let log: Vec<String> = (1..=25_000).map(|n| signed_in(n, if n % 2 == 0 { "ana" } else { "ben" })).collect();
    store.append("acme", 0, None, "", &log).expect("appends");
    drop(store);
    let db = rusqlite::Connection::open(root.path().join(agentstate_server::store::DB_FILE)).expect("opens");
    db.execute_batch("DELETE FROM user_events; UPDATE tenants SET unindexed_to = last_seq;").expect("unindexes");
    drop(db);
    let store = open(&place);
    let page = store.history("acme", "ana", u64::MAX, 3).expect("reads");
    assert_eq!(page.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(), [25_000, 24_998, 24_996]);
    assert_eq!(store.history("acme", "ben", 2, 10).expect("reads").len(), 1, "down to the first event");
}

#[test]
fn the_postgres_store_passes_the_suite() {
    let cluster = PgCluster::start().expect("a private PostgreSQL cluster");
    let count = std::cell::Cell::new(0);
    let fresh = || {
        count.set(count.get() + 1);
        StoreConfig::Postgres(cluster.database(&format!("store_{}", count.get())).expect("creates a database"))
    };
    for (name, case) in SUITE {
        eprintln!("postgres: {name}");
        case(&fresh);
    }
}

/// A host hears of other hosts' appends to the tenants its feeds follow, and of no other:
/// routed by tenant, hosts do not do each other's work. Once it listens for a tenant it
/// says so (`Missed` of that tenant: read the store, something may have come before), and
/// a tenant no longer followed is no longer heard of.
#[test]
fn a_host_hears_of_appends_to_the_tenants_it_follows_only() {
    use agentstate_server::store::{Followed, Heard};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    let cluster = PgCluster::start().expect("a private PostgreSQL cluster");
    let place = StoreConfig::Postgres(cluster.database("follow").expect("creates a database"));
    let mut store = open(&place);
    for tenant in ["acme", "globex"] {
        store.create_tenant(tenant, "{}").expect("creates");
    }
    let (followed, stop) = (Followed::default(), Arc::new(AtomicBool::new(false)));
    let (told, heard) = std::sync::mpsc::channel();
    let follower =
        place.follow(followed.clone(), stop.clone(), move |change| drop(told.send(change))).expect("follows");
    // Everything heard within `wait`.
    let hear = |wait: Duration| {
        let until = Instant::now() + wait;
        std::iter::from_fn(|| heard.recv_timeout(until.saturating_duration_since(Instant::now())).ok())
            .collect::<Vec<Heard>>()
    };

    let acme = followed.follow("acme");
    let first = hear(Duration::from_secs(2));
    assert_eq!(first, [Heard::Missed { tenant: Some("acme".into()) }], "it listens for acme, and says so");
    store.append("globex", 0, None, "", &[event(1)]).expect("appends");
    store.append("acme", 0, None, "", &[event(1)]).expect("appends");
    let changes = hear(Duration::from_secs(1));
    assert_eq!(changes, [Heard::Appended { tenant: "acme".into(), seq: 1 }], "globex is not followed");

    drop(acme);
    std::thread::sleep(Duration::from_millis(600));
    store.append("acme", 1, None, "", &[event(2)]).expect("appends");
    assert_eq!(hear(Duration::from_secs(1)), [], "acme is no longer followed");
    stop.store(true, Ordering::Relaxed);
    if let Some(follower) = follower {
        follower.join().expect("the follower stops");
    }
}

/// The locks a process holds on a file, as Linux lists them (`/proc/locks`: id, kind, mode,
/// access, pid, device:inode, range).
#[cfg(target_os = "linux")]
fn locks_held_on(path: &std::path::Path) -> usize {
    use std::os::unix::fs::MetadataExt;
    let inode = std::fs::metadata(path).expect("the file").ino().to_string();
    let pid = std::process::id().to_string();
    let locks = std::fs::read_to_string("/proc/locks").expect("/proc/locks");
    locks
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.len() > 5 && f[4] == pid && f[5].rsplit(':').next() == Some(inode.as_str()))
        .count()
}

/// Opening the store again in the same process — as the read connections do, lazily, while
/// the writer runs — keeps SQLite's locks on the database: a handle opened and closed on it
/// drops them all, after which another process (a `sqlite3` session, a backup) takes the
/// store for unused and deletes the WAL the server goes on writing to.
#[cfg(target_os = "linux")]
#[test]
fn opening_the_store_again_keeps_sqlites_locks_on_the_database() {
    let root = tempfile::tempdir().expect("tempdir");
    let place = StoreConfig::Sqlite(root.path().to_owned());
    let mut writer = open(&place);
    writer.create_tenant("acme", "{}").expect("creates");
    writer.append("acme", 0, Some("c1"), "ok", &[event(1)]).expect("appends");
    let db = root.path().join(agentstate_server::store::DB_FILE);
    let held = locks_held_on(&db);
    assert!(held > 0, "the open store holds a lock on its database");
    let reader = open(&place);
    assert_eq!(reader.last_seq("acme").expect("reads"), 1);
    assert_eq!(locks_held_on(&db), held, "opening the store again dropped the process's locks");
}
