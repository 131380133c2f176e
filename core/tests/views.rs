//! The dashboard views answer what a supervisor sees.

use agentstate_core::views::{allowed_actions, history, lingering_unassigned, roster, search_users};
use agentstate_core::wire::handle_json;
use agentstate_core::{Actor, ChannelId, Event, Millis, MonitorMode, Role, RoleSet, State, TenantSeed, UserId};

fn tenant() -> (State, Vec<Event>) {
    let seed: TenantSeed = serde_json::from_str(
        r#"{
          "plan": "complete",
          "pause_reasons": ["lunch"],
          "users": [
            {"id": "ana", "name": "Ana Agent", "roles": ["agent"]},
            {"id": "max", "name": "Max Müller", "roles": ["agent"]},
            {"id": "noa", "name": "Noa Norole"},
            {"id": "sam", "name": "Sam Supervisor", "roles": ["supervisor"]},
            {"id": "ada", "name": "Ada Admin", "roles": ["admin"]}
          ],
          "channels": [
            {"id": "sales", "kind": "queue", "name": "Sales", "wrap_up_secs": 30, "agents": ["ana", "max"], "supervisors": ["sam"]},
            {"id": "support", "kind": "queue", "name": "Support", "supervisors": ["sam"]}
          ]
        }"#,
    )
    .unwrap();
    let events = seed.events().unwrap();
    (State::from_events(&events), events)
}

/// Feeds JSON commands, keeping the event log; every command must be accepted.
fn feed(state: &mut State, log: &mut Vec<Event>, commands: &[&str]) {
    for c in commands {
        match handle_json(state, c) {
            agentstate_core::wire::Outcome::Accepted { events } => log.extend(events),
            other => panic!("{c} was not accepted: {other:?}"),
        }
    }
}

fn id(s: &str) -> UserId {
    UserId::new(s).unwrap()
}

#[test]
fn the_roster_shows_assignment_sign_in_pause_call_monitoring_wrap_up_and_device() {
    let (mut state, mut log) = tenant();
    feed(
        &mut state,
        &mut log,
        &[
            r#"{"type":"sign_in","actor":"sam","at":1000,"user":"noa","channel":"sales"}"#,
            r#"{"type":"sign_in","actor":"ana","at":1000,"user":"ana","channel":"sales"}"#,
            r#"{"type":"sign_in","actor":"max","at":1000,"user":"max","channel":"sales"}"#,
            r#"{"type":"pause","actor":"max","at":1500,"user":"max","reason":"lunch","channel":"sales"}"#,
            r#"{"type":"device_registered","actor":"system","at":1600,"user":"ana","device":"d1","kind":"softphone","label":"Laptop"}"#,
            r#"{"type":"device_registered","actor":"system","at":1600,"user":"ana","device":"d2","kind":"desk_phone","label":"Desk"}"#,
            r#"{"type":"device_activity","actor":"system","at":1700,"device":"d1","active":true}"#,
            r#"{"type":"device_activity","actor":"system","at":1700,"device":"d2","active":true}"#,
            r#"{"type":"interaction_started","actor":"system","at":2000,"user":"ana","channel":"sales","interaction":"c1"}"#,
            r#"{"type":"monitor","actor":"sam","at":2100,"user":"ana","mode":"whisper"}"#,
        ],
    );
    let r = roster(&state, "sales", Millis::new(2200).unwrap()).unwrap();
    let names: Vec<&str> = r.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["Ana Agent", "Max Müller", "Noa Norole", "Sam Supervisor"], "sorted by name");

    let ana = &r.entries[0];
    assert!(ana.assigned.agent && !ana.unassigned_sign_in);
    assert_eq!(ana.interaction.as_ref().unwrap().interaction.as_str(), "c1");
    let monitor = ana.monitored_by.as_ref().unwrap();
    assert_eq!((monitor.supervisor.as_str(), monitor.mode), ("sam", MonitorMode::Whisper));
    assert_eq!(ana.active_device.as_ref().unwrap().device.as_str(), "d2", "activating d2 deactivated d1");

    let max = &r.entries[1];
    assert_eq!(max.paused.as_ref().unwrap().reason.as_str(), "lunch");

    let noa = &r.entries[2];
    assert!(noa.unassigned_sign_in, "signed in without an assignment");
    assert_eq!(noa.signed_in.as_ref().unwrap().by, Actor::User(id("sam")));

    let sam = &r.entries[3];
    assert!(sam.assigned.supervisor && sam.signed_in.is_none());

    // Ana signs out mid-call: she stays on the roster while the call and its wrap-up run.
    feed(
        &mut state,
        &mut log,
        &[
            r#"{"type":"sign_out","actor":"ada","at":2300,"user":"ana","channel":"sales"}"#,
            r#"{"type":"unassign","actor":"ada","at":2300,"user":"ana","channel":"sales"}"#,
            r#"{"type":"interaction_ended","actor":"system","at":3000,"interaction":"c1"}"#,
        ],
    );
    let at = Millis::new(13_000).unwrap();
    let ana = roster(&state, "sales", at).unwrap().entries.into_iter().find(|e| e.user.as_str() == "ana").unwrap();
    let wrap_up = ana.wrap_up.unwrap();
    assert_eq!((wrap_up.until.get(), wrap_up.remaining_ms), (33_000, 20_000));
    assert!(ana.monitored_by.is_none() && ana.interaction.is_none());
    let after = Millis::new(33_000).unwrap();
    assert!(!roster(&state, "sales", after).unwrap().entries.iter().any(|e| e.user.as_str() == "ana"));
    assert!(roster(&state, "nowhere", at).is_none());
}

#[test]
fn search_finds_names_without_case_or_accents_and_marks_the_active_device() {
    let (mut state, mut log) = tenant();
    feed(
        &mut state,
        &mut log,
        &[
            r#"{"type":"device_registered","actor":"system","at":1,"user":"max","device":"m1","kind":"mobile","label":"Phone"}"#,
            r#"{"type":"device_registered","actor":"system","at":1,"user":"max","device":"m2","kind":"web","label":"Browser"}"#,
            r#"{"type":"device_activity","actor":"system","at":2,"device":"m2","active":true}"#,
        ],
    );
    for query in ["muller", "MÜLLER", "mueller", "max mül", "  müll  "] {
        let hits = search_users(&state, query, RoleSet::NONE);
        assert_eq!(hits.len(), 1, "{query}");
        let max = &hits[0];
        assert_eq!(max.user.as_str(), "max");
        assert_eq!(max.active_device.as_ref().map(|d| d.as_str()), Some("m2"));
        assert_eq!(
            max.devices.iter().map(|d| (d.device.as_str(), d.active)).collect::<Vec<_>>(),
            [("m1", false), ("m2", true)]
        );
    }
    let everyone = search_users(&state, "", RoleSet::NONE);
    assert_eq!(everyone.len(), 5);
    let agents: Vec<String> =
        search_users(&state, "", [Role::Agent].into_iter().collect()).into_iter().map(|m| m.user.to_string()).collect();
    assert_eq!(agents, ["ana", "max"]);
    let staff: Vec<String> = search_users(&state, "", [Role::Supervisor, Role::Admin].into_iter().collect())
        .into_iter()
        .map(|m| m.user.to_string())
        .collect();
    assert_eq!(staff, ["ada", "sam"]);
    assert!(search_users(&state, "zed", RoleSet::NONE).is_empty());
    assert_eq!(search_users(&state, "noa", [Role::Agent].into_iter().collect()).len(), 0, "roles filter");
}

#[test]
fn lingering_unassigned_sign_ins_are_flagged_once_the_admin_restricts_them() {
    let (mut state, mut log) = tenant();
    feed(
        &mut state,
        &mut log,
        &[
            r#"{"type":"sign_in","actor":"ana","at":1000,"user":"ana","channel":"support"}"#,
            r#"{"type":"sign_in","actor":"ana","at":1000,"user":"ana","channel":"sales"}"#,
        ],
    );
    let lingering = lingering_unassigned(&state);
    assert_eq!(lingering.len(), 1);
    assert_eq!((lingering[0].user.as_str(), lingering[0].channel.as_str()), ("ana", "support"));
    assert_eq!((lingering[0].since.get(), &lingering[0].by), (1000, &Actor::User(id("ana"))));
    assert!(!lingering[0].flagged);

    feed(
        &mut state,
        &mut log,
        &[r#"{"type":"set_setting","actor":"ada","at":2000,"setting":"unassigned_sign_in","value":false}"#],
    );
    assert!(lingering_unassigned(&state)[0].flagged, "restricted, yet still signed in");

    feed(&mut state, &mut log, &[r#"{"type":"sign_out_unassigned","actor":"sam","at":3000}"#]);
    assert!(lingering_unassigned(&state).is_empty(), "the bulk sign-out clears it");
}

#[test]
fn history_lists_what_touched_a_user_with_actor_and_time() {
    let (mut state, mut log) = tenant();
    feed(
        &mut state,
        &mut log,
        &[
            r#"{"type":"sign_in","actor":"ana","at":1000,"user":"ana","channel":"sales"}"#,
            r#"{"type":"sign_in","actor":"max","at":1000,"user":"max","channel":"sales"}"#,
            r#"{"type":"interaction_started","actor":"system","at":2000,"user":"ana","channel":"sales","interaction":"c1"}"#,
            r#"{"type":"monitor","actor":"sam","at":2100,"user":"ana","mode":"listen"}"#,
            r#"{"type":"interaction_ended","actor":"system","at":3000,"interaction":"c1"}"#,
        ],
    );
    let ana: Vec<(u64, String, String)> = history(&log, "ana")
        .into_iter()
        .map(|e| (e.at.get(), e.by.to_string(), change_type(e)))
        .filter(|(at, _, _)| *at > 0)
        .collect();
    assert_eq!(
        ana,
        [
            (1000, "ana".into(), "signed_in".into()),
            (2000, "system".into(), "interaction_started".into()),
            (2100, "sam".into(), "monitoring_started".into()),
            (3000, "system".into(), "monitoring_stopped".into()),
            (3000, "system".into(), "interaction_ended".into()),
        ]
    );
    let sam: Vec<String> = history(&log, "sam").into_iter().filter(|e| e.at.get() > 0).map(change_type).collect();
    assert_eq!(sam, ["monitoring_started", "monitoring_stopped"], "the supervisor's side of monitoring");
    assert_eq!(history(&log, "ana")[0].at.get(), 0, "the seed's user_created comes first");
}

fn change_type(e: &Event) -> String {
    serde_json::to_value(e).unwrap()["type"].as_str().unwrap().to_owned()
}

#[test]
fn allowed_actions_explain_a_disabled_end_wrap_up() {
    let (mut state, mut log) = tenant();
    feed(
        &mut state,
        &mut log,
        &[
            r#"{"type":"sign_in","actor":"ana","at":1000,"user":"ana","channel":"sales"}"#,
            r#"{"type":"interaction_started","actor":"system","at":2000,"user":"ana","channel":"sales","interaction":"c1"}"#,
            r#"{"type":"interaction_ended","actor":"system","at":3000,"interaction":"c1"}"#,
        ],
    );
    let sales = ChannelId::new("sales").unwrap();
    let at = Millis::new(4000).unwrap();
    let sam = Actor::User(id("sam"));
    let view = allowed_actions(&state, &sam, &id("ana"), Some(&sales), at);
    assert!(!view.end_wrap_up.allowed);
    let why = view.end_wrap_up.rejection.unwrap();
    assert_eq!(why.rejection.code().as_str(), "wrap_up_end_not_enabled");
    assert!(why.message.de.contains("Nachbearbeitung"));
    assert!(view.sign_out.unwrap().allowed && !view.sign_in.unwrap().allowed);

    feed(
        &mut state,
        &mut log,
        &[r#"{"type":"set_setting","actor":"ada","at":4000,"setting":"supervisor_wrap_up_end","value":true}"#],
    );
    assert!(allowed_actions(&state, &sam, &id("ana"), Some(&sales), at).end_wrap_up.allowed);
    let self_view = allowed_actions(&state, &Actor::User(id("ana")), &id("ana"), None, at);
    assert!(self_view.sign_in.is_none(), "channel-bound actions need a channel");
    assert!(!self_view.monitor.listen.allowed);
}

/// The Actions menu (`allowed_actions`) judges every command a supervisor gives about one
/// agent's status. A new command is either in it or named here as one that is not about an
/// agent's status — this test fails until its author decides which.
#[test]
fn every_command_is_in_the_actions_menu_or_named_as_not_about_an_agents_status() {
    use agentstate_core::Action;
    const NOT_ABOUT_AN_AGENTS_STATUS: &[&str] = &[
        // The routing system's facts and the devices it reports.
        "interaction_started",
        "interaction_ended",
        "device_registered",
        "device_activity",
        // The admin's configuration (the Configuration screen judges these with `decide`).
        "set_plan",
        "create_user",
        "set_roles",
        "create_channel",
        "assign",
        "unassign",
        "set_setting",
        "set_pause_reasons",
    ];
    let (state, _) = tenant();
    let channel = ChannelId::new("support").expect("an id");
    let menu = allowed_actions(&state, &Actor::from(id("sam")), &id("ana"), Some(&channel), Millis::new(0).unwrap());
    let menu = serde_json::to_value(menu).expect("json");
    let in_menu: Vec<&str> = menu.as_object().expect("an object").keys().map(String::as_str).collect();
    for kind in Action::TYPES {
        let (shown, excluded) = (in_menu.contains(kind), NOT_ABOUT_AN_AGENTS_STATUS.contains(kind));
        assert!(shown != excluded, "{kind}: in the Actions menu {shown}, named as not about a status {excluded}");
    }
    assert_eq!(in_menu.len() + NOT_ABOUT_AN_AGENTS_STATUS.len(), Action::TYPES.len(), "{in_menu:?}");
}
