//! The browser and Node build: a `Tenant` class over plain JS objects. TypeScript types
//! come from the Rust types (tsify); parameters and results cross as `Ts<T>` (or a typed
//! `JsValue`), converted in the body so bad input is an ordinary error, never a leak.
//!
//! One decoding path, JSON text, both ways: arguments are `JSON.stringify`-ed and read by
//! serde_json, results are written by serde_json and `JSON.parse`-d. So `JSON.stringify` of
//! any result is the JSON the native core and the plugin ABI give, and the module carries
//! one set of (de)serializers instead of two (serde_json's and a JS-object one).

use agentstate_core::views;
use agentstate_core::wire::Outcome;
use agentstate_core::{Actor, ChannelId, Lang, Millis, Rejection, RoleSet, Sight, State, TenantSeed, UserId};
use serde::Serialize;
use tsify::Ts;
use wasm_bindgen::prelude::*;

fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsError> {
    let text = serde_json::to_string(value).map_err(js_error)?;
    js_sys::JSON::parse(&text).map_err(|_| js_error("the module wrote JSON that JavaScript cannot read"))
}

/// A JS argument as `T`, through its JSON text.
fn from_js<T: serde::de::DeserializeOwned>(value: &JsValue) -> Result<T, JsError> {
    serde_json::from_str(&json_text(value)).map_err(js_error)
}

fn typed<T: tsify::Tsify + Serialize>(value: &T) -> Result<Ts<T>, JsError> {
    to_js(value).map(Ts::new_unchecked)
}

fn js_error(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

fn at(ms: f64) -> Result<Millis, JsError> {
    let valid = ms.fract() == 0.0 && ms >= 0.0;
    valid
        .then(|| Millis::new(ms as u64))
        .flatten()
        .ok_or_else(|| js_error(format!("{ms} is not a time in milliseconds")))
}

fn id<T>(text: &str, make: fn(&str) -> Result<T, agentstate_core::TextError>) -> Result<T, JsError> {
    make(text).map_err(js_error)
}

/// One tenant: its state and the events applied to it.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Tenant {
    inner: agentstate_core::Tenant,
}

#[wasm_bindgen]
impl Tenant {
    /// A new tenant from its description.
    #[wasm_bindgen(js_name = fromSeed)]
    pub fn from_seed(seed: Ts<TenantSeed>) -> Result<Tenant, JsError> {
        let seed: TenantSeed = from_js(&seed.js_value())?;
        Ok(Tenant { inner: agentstate_core::Tenant::from_seed(&seed).map_err(js_error)? })
    }

    /// A tenant restored from a snapshot.
    #[wasm_bindgen(js_name = fromSnapshot)]
    pub fn from_snapshot(snapshot: Ts<State>) -> Result<Tenant, JsError> {
        Ok(Tenant { inner: agentstate_core::Tenant::from_state(from_js(&snapshot.js_value())?) })
    }

    /// What `command` would give, without applying it. Invalid input is an
    /// `invalid_command` outcome, like any other runtime gives.
    pub fn decide(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Command")] command: JsValue,
    ) -> Result<Ts<Outcome>, JsError> {
        typed(&self.inner.consider(&json_text(&command)))
    }

    /// Decides `command` and applies its events.
    pub fn apply(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Command")] command: JsValue,
    ) -> Result<Ts<Outcome>, JsError> {
        typed(&self.inner.answer(&json_text(&command)))
    }

    /// Folds events decided elsewhere (a server's live feed) into this tenant, all or
    /// nothing: a dashboard mirrors the server's log and computes its views locally.
    #[wasm_bindgen(js_name = applyEvents)]
    pub fn apply_events(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Event[]")] events: JsValue,
    ) -> Result<(), JsError> {
        crate::facade::apply(&mut self.inner, &json_text(&events)).map_err(js_error)
    }

    /// Which §4.1 actions `actor` may take on `user` (on `channel`) at `at`, and why not.
    #[wasm_bindgen(js_name = allowedActions)]
    pub fn allowed_actions(
        &self,
        actor: &str,
        user: &str,
        channel: Option<String>,
        at_ms: f64,
    ) -> Result<Ts<views::AllowedActions>, JsError> {
        let actor = Actor::from(id(actor, UserId::new)?);
        let channel = channel.as_deref().map(|c| id(c, ChannelId::new)).transpose()?;
        let user = id(user, UserId::new)?;
        typed(&views::allowed_actions(self.inner.state(), &actor, &user, channel.as_ref(), at(at_ms)?))
    }

    /// Whether `actor` may see the people on `channel`: a supervisor's reach. Every user
    /// sees every channel; whose people they see, this says.
    pub fn reaches(&self, actor: &str, channel: &str) -> Result<bool, JsError> {
        let actor = Actor::from(id(actor, UserId::new)?);
        let channel = id(channel, ChannelId::new)?;
        Ok(Sight::of(self.inner.state(), &actor).reaches(&channel))
    }

    /// Everyone on `channel` at `at`; `null` for an unknown channel.
    #[wasm_bindgen(unchecked_return_type = "Roster | null")]
    pub fn roster(&self, channel: &str, at_ms: f64) -> Result<JsValue, JsError> {
        to_js(&views::roster(self.inner.state(), channel, at(at_ms)?))
    }

    /// Time in state on `channel` at `at`: each agent's state and since when, and the
    /// counts per state; `null` for an unknown channel.
    #[wasm_bindgen(js_name = channelStates, unchecked_return_type = "ChannelStates | null")]
    pub fn channel_states(&self, channel: &str, at_ms: f64) -> Result<JsValue, JsError> {
        to_js(&views::channel_states(self.inner.state(), channel, at(at_ms)?))
    }

    /// The agent's own dashboard for `user` at `at`; `null` for an unknown user.
    #[wasm_bindgen(js_name = agentDashboard, unchecked_return_type = "AgentDashboard | null")]
    pub fn agent_dashboard(&self, user: &str, at_ms: f64) -> Result<JsValue, JsError> {
        to_js(&views::agent_dashboard(self.inner.state(), user, at(at_ms)?))
    }

    /// The day at a glance over `events` (a tenant's log from its description on, in
    /// order): each agent's states per channel from `from` to `to`, with totals.
    pub fn activity(
        #[wasm_bindgen(unchecked_param_type = "Event[]")] events: JsValue,
        from_ms: f64,
        to_ms: f64,
    ) -> Result<Ts<views::ActivityReport>, JsError> {
        let events: Vec<agentstate_core::Event> = from_js(&events)?;
        typed(&views::activity(&events, at(from_ms)?, at(to_ms)?))
    }

    /// Every role, channel kind, monitor mode, setting (with its default) and agent state.
    pub fn vocabulary() -> Result<Ts<views::Vocabulary>, JsError> {
        typed(&views::vocabulary())
    }

    /// The "+ Log agent" picker.
    #[wasm_bindgen(js_name = searchUsers, unchecked_return_type = "UserMatch[]")]
    pub fn search_users(
        &self,
        text: &str,
        #[wasm_bindgen(unchecked_param_type = "Role[]")] roles: JsValue,
    ) -> Result<JsValue, JsError> {
        let roles: RoleSet = if roles.is_undefined() { RoleSet::NONE } else { from_js(&roles)? };
        to_js(&views::search_users(self.inner.state(), text, roles))
    }

    /// Every unassigned sign-in, flagged while unassigned sign-in is turned off.
    #[wasm_bindgen(js_name = lingeringUnassigned, unchecked_return_type = "LingeringSignIn[]")]
    pub fn lingering_unassigned(&self) -> Result<JsValue, JsError> {
        to_js(&views::lingering_unassigned(self.inner.state()))
    }

    /// Who can take work on each channel at `at`, and the running interactions.
    #[wasm_bindgen(js_name = routingBoard)]
    pub fn routing_board(&self, at_ms: f64) -> Result<Ts<views::RoutingBoard>, JsError> {
        typed(&views::routing_board(self.inner.state(), at(at_ms)?))
    }

    /// The events applied to this tenant that touched `user`.
    #[wasm_bindgen(unchecked_return_type = "Event[]")]
    pub fn history(&self, user: &str) -> Result<JsValue, JsError> {
        to_js(&views::history(self.inner.journal(), user))
    }

    /// The state, to store or to restore with `fromSnapshot`.
    pub fn snapshot(&self) -> Result<Ts<State>, JsError> {
        typed(self.inner.state())
    }

    /// A rejection's message in `lang` (`"en"`, `"de"`, or a tag such as `"de-AT"`).
    pub fn message(rejection: Ts<Rejection>, lang: &str) -> Result<String, JsError> {
        Ok(from_js::<Rejection>(&rejection.js_value())?.message(Lang::from_tag(lang)))
    }
}

/// The JSON text of a JS value, for the core's one decoder of commands.
fn json_text(value: &JsValue) -> String {
    js_sys::JSON::stringify(value).ok().and_then(|s| s.as_string()).unwrap_or_default()
}
