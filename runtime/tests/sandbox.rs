//! The plugin module runs sandboxed: a trap, an exhausted fuel budget and a memory-cap
//! hit each come back as a typed error, and the tenant then serves the next request
//! with exactly the state it had before the failed call.

use std::sync::Arc;

use agentstate_runtime::module;
use agentstate_runtime::{HostError, Limits, Runtime, WasmTenant};

const TENANT: &str = r#"{"plan":"complete","users":[{"id":"ana","name":"Ana","roles":["agent"]},
  {"id":"ben","name":"Ben","roles":["agent"]}],
  "channels":[{"id":"sales","kind":"queue","name":"Sales","agents":["ana","ben"]}]}"#;

fn runtime(limits: Limits) -> Arc<Runtime> {
    let path = module::locate().unwrap_or_else(|e| panic!("{e}"));
    Runtime::from_file(&path, Some(&module::cache_dir(&path)), limits).unwrap_or_else(|e| panic!("{e}"))
}

fn command(actor: &str, at: u64, kind: &str, rest: &str) -> String {
    format!(r#"{{"actor":"{actor}","at":{at},"type":"{kind}",{rest}}}"#)
}

/// A tenant in which ana is signed into sales.
fn tenant_with_ana_signed_in(limits: Limits) -> WasmTenant {
    let mut tenant = WasmTenant::new(runtime(limits)).expect("instance");
    tenant.start(TENANT).expect("starts");
    let outcome =
        tenant.handle(&command("ana", 1000, "sign_in", r#""user":"ana","channel":"sales""#)).expect("answers");
    assert!(outcome.contains(r#""outcome":"accepted""#), "{outcome}");
    tenant
}

/// The state after a failure is the state before it: ana signed in, ben not.
fn assert_state_kept(tenant: &mut WasmTenant) {
    let again = tenant.handle(&command("ana", 5000, "sign_in", r#""user":"ana","channel":"sales""#)).expect("serves");
    assert!(again.contains("already_signed_in"), "{again}");
    let ben = tenant.handle(&command("ben", 5000, "sign_out_all", r#""user":"ben""#)).expect("serves");
    assert!(ben.contains("nothing_to_do"), "the failed call left no trace: {ben}");
}

#[test]
fn a_guest_trap_is_a_typed_error_and_the_tenant_keeps_its_state() {
    let mut tenant = tenant_with_ana_signed_in(Limits::default());
    let failure = tenant.handle_foreign_region(u32::MAX - 16, 4096).expect_err("reading outside memory traps");
    assert!(matches!(failure, HostError::Trap { call: "handle", .. }), "{failure}");
    assert!(failure.to_string().contains("out of bounds"), "{failure}");
    assert_state_kept(&mut tenant);
}

#[test]
fn an_exhausted_time_budget_is_a_typed_error_and_the_tenant_keeps_its_state() {
    let limits = Limits { time_per_call: std::time::Duration::from_millis(20), ..Limits::default() };
    let mut tenant = tenant_with_ana_signed_in(limits);
    // A batch of 60,000 commands (about 180 ms of work, nine times the budget),
    // whose first command would sign ben in: none of it may stick.
    let mut batch = vec![command("ben", 2000, "sign_in", r#""user":"ben","channel":"sales""#)];
    batch.extend((0..60_000).map(|i| command("ana", 2000 + i, "pause", r#""user":"ana","reason":"x""#)));
    let failure = tenant.handle_batch(&format!("[{}]", batch.join(","))).expect_err("overruns its budget");
    assert!(matches!(failure, HostError::OutOfTime { call: "handle_batch" }), "{failure}");
    assert_state_kept(&mut tenant);
}

#[test]
fn a_memory_cap_hit_is_a_typed_error_and_the_tenant_keeps_its_state() {
    let limits = Limits { memory_bytes: 8 << 20, ..Limits::default() };
    let mut tenant = tenant_with_ana_signed_in(limits);
    let huge = format!(r#"{{"view":"search_users","actor":"system","text":"{}"}}"#, "a".repeat(12 << 20));
    let failure = tenant.query(&huge).expect_err("does not fit in 8 MiB");
    assert!(matches!(failure, HostError::MemoryCap { cap: 8_388_608, .. }), "{failure}");
    assert_state_kept(&mut tenant);
}

#[test]
fn other_tenants_are_untouched_by_one_tenants_failure() {
    let runtime = runtime(Limits::default());
    let mut healthy = WasmTenant::new(runtime.clone()).expect("instance");
    healthy.start(TENANT).expect("starts");
    let mut broken = WasmTenant::new(runtime).expect("instance");
    broken.start(TENANT).expect("starts");
    assert!(broken.handle_foreign_region(u32::MAX - 16, 4096).is_err());
    let outcome =
        healthy.handle(&command("ben", 1000, "sign_in", r#""user":"ben","channel":"sales""#)).expect("serves");
    assert!(outcome.contains("accepted"), "{outcome}");
}

#[test]
fn malformed_guest_input_is_answered_not_fatal() {
    let mut tenant = tenant_with_ana_signed_in(Limits::default());
    let refused = tenant.query("not json").expect_err("not a query");
    assert!(
        matches!(&refused, HostError::Refused { call: "query", message } if message.starts_with("not a view query")),
        "{refused}"
    );
    let refused = tenant.handle_batch(r#"{"not": "an array"}"#).expect_err("not a batch");
    assert!(matches!(refused, HostError::Refused { call: "handle_batch", .. }), "{refused}");
    let invalid = tenant.handle_bytes(b"{\"actor\":\"ana\xff\"}", false).expect("an outcome");
    assert!(!invalid.accepted && invalid.outcome.contains("not UTF-8"), "{}", invalid.outcome);
    let refused = tenant.restore("{}").expect_err("not a snapshot");
    assert!(matches!(refused, HostError::Refused { call: "restore", .. }), "{refused}");
    assert_state_kept(&mut tenant);
}

#[test]
fn a_tenant_that_cannot_be_rebuilt_refuses_to_answer_rather_than_answer_wrongly() {
    // The tenant grows in small batches until one hits the memory cap. Rebuilding it means
    // replaying its whole tail in one piece, which needs more memory still: the rebuild
    // fails, and from then on the tenant must refuse to answer, not answer from an empty
    // instance.
    let limits = Limits { memory_bytes: 12 << 20, ..Limits::default() };
    let mut tenant = tenant_with_ana_signed_in(limits);
    let mut at = 2000;
    let failure = (0..200)
        .find_map(|_| {
            let batch: Vec<String> = (0..1000)
                .map(|i| {
                    at += 1;
                    let (kind, reason) = if i % 2 == 0 { ("pause", r#","reason":"lunch""#) } else { ("resume", "") };
                    command("ana", at, kind, &format!(r#""user":"ana","channel":"sales"{reason}"#))
                })
                .collect();
            tenant.handle_batch(&format!("[{}]", batch.join(","))).err()
        })
        .expect("the tenant outgrows 12 MiB");
    assert!(matches!(failure, HostError::Rebuild(_)), "the replay did not fit either: {failure}");
    let next = tenant.handle(&command("ben", at + 1, "sign_out_all", r#""user":"ben""#));
    assert!(matches!(next, Err(HostError::Rebuild(_))), "no answer from an empty instance: {next:?}");
}
