//! PostgreSQL over TLS, as the database URL asks (`sslmode`, `sslrootcert`): a private
//! cluster with a certificate made here, whose `pg_hba.conf` lets TCP clients in only over
//! TLS — so a store that connects at all connected encrypted, and the server is asked
//! besides (`pg_stat_ssl`) through its Unix socket.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use agentstate_server::store::{Followed, Heard, StoreConfig, StoreError};
use agentstate_testkit::PgCluster;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

/// A certificate authority of the test's own, and the server's certificate it signed (for
/// `localhost` and 127.0.0.1).
struct Pki {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

fn authority(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("a CA")
}

fn pki() -> Pki {
    let ca = authority("agentstate test CA");
    let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).expect("params");
    params.distinguished_name.push(DnType::CommonName, "localhost");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, &ca).expect("a server certificate");
    Pki { ca_pem: ca.pem(), cert_pem: cert.pem(), key_pem: key.serialize_pem() }
}

/// Opens the store at `url` as the server does; the error as the server would say it.
fn open(url: &str) -> Result<Box<dyn agentstate_server::store::Store>, StoreError> {
    StoreConfig::Postgres(url.to_owned()).open()
}

fn event(n: u64) -> String {
    format!(r#"{{"at":{n},"by":"system","type":"plan_set","plan":"basic"}}"#)
}

#[test]
fn the_store_reaches_postgres_over_tls_as_the_url_asks() {
    let pki = pki();
    let files = tempfile::tempdir().expect("tempdir");
    let ca = files.path().join("ca.pem");
    let other_ca = files.path().join("other-ca.pem");
    std::fs::write(&ca, &pki.ca_pem).expect("writes");
    std::fs::write(&other_ca, authority("someone else's CA").pem()).expect("writes");
    let cluster = PgCluster::start_tls(&pki.cert_pem, &pki.key_pem, true).expect("a private cluster with TLS");
    let mut admin = postgres::Client::connect(&cluster.socket_url("postgres"), postgres::NoTls).expect("the socket");
    admin.batch_execute("CREATE DATABASE agentstate").expect("creates");
    // Each of the store's connections, as the server sees them.
    let mut encrypted = || -> (i64, i64) {
        let row = admin
            .query_one(
                "SELECT count(*) FILTER (WHERE s.ssl), count(*) FROM pg_stat_ssl s \
                 JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'agentstate'",
                &[],
            )
            .expect("asks");
        (row.get(0), row.get(1))
    };
    let base = cluster.url("agentstate");
    let with = |params: &str| format!("{base}?{params}");
    let verify_full = with(&format!("sslmode=verify-full&sslrootcert={}", ca.display()));

    for url in [with("sslmode=require"), verify_full.clone(), base.clone()] {
        let store = open(&url).unwrap_or_else(|e| panic!("{url}: {e}"));
        store.ping().expect("answers");
        let (tls, all) = encrypted();
        assert!(all >= 1 && tls == all, "{url}: {tls} of {all} connections encrypted");
    }
    // libpq's key=value form, and the name checked against the certificate: a host name
    // the certificate does not carry passes verify-ca, not verify-full.
    let key_values = |host: &str, mode: &str| {
        format!(
            "host={host} hostaddr=127.0.0.1 port={} user=postgres dbname=agentstate sslmode={mode} sslrootcert='{}'",
            cluster.port(),
            ca.display()
        )
    };
    open(&key_values("localhost", "verify-full")).expect("the certificate names localhost");
    open(&key_values("db.invalid", "verify-ca")).expect("verify-ca checks the chain only");
    let wrong_name = open(&key_values("db.invalid", "verify-full")).err().map(|e| e.to_string()).expect("refused");
    assert!(wrong_name.contains("not valid for name \"db.invalid\""), "{wrong_name}");

    let wrong_ca =
        open(&with(&format!("sslmode=verify-full&sslrootcert={}", other_ca.display()))).err().map(|e| e.to_string());
    let wrong_ca = wrong_ca.expect("a certificate from an authority not asked for is refused");
    assert!(wrong_ca.contains("certificate") && wrong_ca.contains("sslrootcert"), "{wrong_ca}");
    let plain = open(&with("sslmode=disable"))
        .err()
        .map(|e| e.to_string())
        .expect("a plain connection is refused by this cluster");
    assert!(plain.contains("no encryption"), "{plain}");
    let allow = open(&with("sslmode=allow")).err().map(|e| e.to_string()).expect("refused");
    assert!(allow.contains("not supported"), "{allow}");

    // The thread that follows other hosts' appends listens over TLS too.
    let place = StoreConfig::Postgres(verify_full);
    let stop = Arc::new(AtomicBool::new(false));
    let (told, heard) = std::sync::mpsc::channel();
    let followed = Followed::default();
    let _acme = followed.follow("acme");
    let follower = place.follow(followed, stop.clone(), move |change| drop(told.send(change))).expect("follows");
    let mut store = place.open().expect("opens");
    store.create_tenant("acme", "{}").expect("creates");
    // Appends until the follower (which connects on its own thread) hears one.
    let heard_one = (0..50).any(|n| {
        store.append("acme", n, None, "", &[event(n)]).expect("appends");
        matches!(heard.recv_timeout(Duration::from_millis(200)), Ok(Heard::Appended { .. }))
    });
    stop.store(true, Ordering::Relaxed);
    if let Some(follower) = follower {
        follower.join().expect("the follower stops");
    }
    assert!(heard_one, "the follower heard no append");
    let (tls, all) = encrypted();
    assert_eq!(tls, all, "every connection of the store encrypted");
}
