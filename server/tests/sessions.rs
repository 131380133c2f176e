//! Sessions per token are capped on both stores: opening one more ends the oldest, in the
//! same transaction, so the table never holds more than the cap for a token (issue 19).

use agentstate_server::clock::now_ms;
use agentstate_server::sessions::{self, Credential, MAX_PER_TOKEN};
use agentstate_server::store::{StoreConfig, TokenGrant};
use agentstate_testkit::PgCluster;

/// The rows of the sessions table that hang on `token`, counted in the database itself.
fn rows(place: &StoreConfig, token: &str) -> i64 {
    match place {
        StoreConfig::Sqlite(dir) => {
            let db = rusqlite::Connection::open(dir.join(agentstate_server::store::DB_FILE)).expect("opens");
            db.query_row("SELECT count(*) FROM sessions WHERE token = ?1", [token], |r| r.get(0)).expect("counts")
        }
        StoreConfig::Postgres(url) => {
            let url = url.clone();
            let token = token.to_owned();
            // The blocking client runs a runtime of its own: on a thread of its own.
            std::thread::spawn(move || {
                let mut db = postgres::Client::connect(&url, postgres::NoTls).expect("connects");
                db.query_one("SELECT count(*) FROM sessions WHERE token = $1", &[&token]).expect("counts").get(0)
            })
            .join()
            .expect("counts")
        }
    }
}

fn a_token_keeps_its_newest_sessions(place: &StoreConfig) {
    let mut store = place.open().expect("opens");
    store.create_tenant("acme", "{}").expect("creates");
    let token = agentstate_server::tokens::issue(&mut *store, "acme", "ana").expect("a token");
    let other = agentstate_server::tokens::issue(&mut *store, "acme", "ben").expect("a token");
    let hash = agentstate_server::tokens::hash(&token);
    let other_session =
        sessions::open(&mut *store, &Credential::Token(other.clone())).expect("opens").expect("a session");

    // Several within one millisecond too: the one just opened is never the one that ends.
    let mut opened = Vec::new();
    for n in 0..MAX_PER_TOKEN + 5 {
        let session =
            sessions::open(&mut *store, &Credential::Token(token.clone())).expect("opens").expect("a session");
        let live = store.session(&agentstate_server::tokens::hash(&session.secret), now_ms()).expect("reads");
        assert!(live.is_some(), "session {n} works as soon as it is opened");
        opened.push(session.secret);
        assert!(rows(place, &hash) <= MAX_PER_TOKEN as i64, "{} rows after {} sign-ins", rows(place, &hash), n + 1);
    }
    assert_eq!(rows(place, &hash), MAX_PER_TOKEN as i64);
    let live: Vec<bool> = opened
        .iter()
        .map(|secret| store.session(&agentstate_server::tokens::hash(secret), now_ms()).expect("reads").is_some())
        .collect();
    let ended = live.iter().filter(|live| !**live).count();
    assert_eq!(ended, 5, "{live:?}");
    assert!(live[5..].iter().all(|live| *live), "the newest {MAX_PER_TOKEN} live on: {live:?}");
    let grant = store.session(&agentstate_server::tokens::hash(&other_session.secret), now_ms()).expect("reads");
    let ben = TokenGrant { tenant: "acme".into(), actor: "ben".into() };
    assert_eq!(grant.map(|g| g.0), Some(ben), "another token's session is not touched");
}

#[test]
fn sessions_per_token_are_capped_on_sqlite() {
    let root = tempfile::tempdir().expect("tempdir");
    a_token_keeps_its_newest_sessions(&StoreConfig::Sqlite(root.path().to_owned()));
}

#[test]
fn sessions_per_token_are_capped_on_postgres() {
    let cluster = PgCluster::start().expect("a private PostgreSQL cluster");
    a_token_keeps_its_newest_sessions(&StoreConfig::Postgres(cluster.database("sessions").expect("a database")));
}
