//! A user's seats on channels: the sign-ins they hold (R4), and when they last signed out
//! of each channel they are not signed in to now (where time in state "signed out" begins).
//!
//! Both live in one small vector sorted by channel, each channel once. A sign-in or a
//! sign-out turns one entry over in place, and the fold touches one allocation per user:
//! kept as two maps, every sign-in and sign-out moved entries out of one vector and into
//! another, a second cache miss that made replay 13 % slower (measured, issue 20).

use std::borrow::Borrow;
use std::fmt;

use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::model::id_map::SmallMap;
use crate::model::ids::{Actor, ChannelId, Millis, PauseReason};

/// A sign-in: since when, by whom, and its pause if on break.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub since: Millis,
    pub by: Actor,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub pause: Option<Pause>,
    /// When the last pause of this sign-in ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub resumed: Option<Millis>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Pause {
    pub reason: PauseReason,
    pub since: Millis,
    pub by: Actor,
}

#[derive(Clone, PartialEq, Eq, Default)]
pub struct SignIns(SmallMap<ChannelId, Seat>);

#[derive(Clone, PartialEq, Eq, Debug)]
enum Seat {
    SignedIn(SignIn),
    /// Signed out of the channel at this time (and not signed in to it since).
    SignedOut(Millis),
}

impl SignIns {
    /// The sign-in to `channel`, if the user holds one.
    pub fn get<Q: Eq + ?Sized>(&self, channel: &Q) -> Option<&SignIn>
    where
        ChannelId: Borrow<Q>,
    {
        match self.0.get(channel) {
            Some(Seat::SignedIn(sign_in)) => Some(sign_in),
            _ => None,
        }
    }

    pub fn get_mut<Q: Eq + ?Sized>(&mut self, channel: &Q) -> Option<&mut SignIn>
    where
        ChannelId: Borrow<Q>,
    {
        match self.0.get_mut(channel) {
            Some(Seat::SignedIn(sign_in)) => Some(sign_in),
            _ => None,
        }
    }

    pub fn contains_key<Q: Eq + ?Sized>(&self, channel: &Q) -> bool
    where
        ChannelId: Borrow<Q>,
    {
        self.get(channel).is_some()
    }

    /// The sign-ins, by channel.
    pub fn iter(&self) -> impl Iterator<Item = (&ChannelId, &SignIn)> {
        self.0.iter().filter_map(|(channel, seat)| match seat {
            Seat::SignedIn(sign_in) => Some((channel, sign_in)),
            Seat::SignedOut(_) => None,
        })
    }

    /// The channels signed in to, by id.
    pub fn keys(&self) -> impl Iterator<Item = &ChannelId> {
        self.iter().map(|(channel, _)| channel)
    }

    /// Whether the user holds no sign-in.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// How many sign-ins the user holds.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// When the user last signed out of `channel`, while they are not signed in to it.
    pub fn signed_out_at<Q: Eq + ?Sized>(&self, channel: &Q) -> Option<Millis>
    where
        ChannelId: Borrow<Q>,
    {
        match self.0.get(channel) {
            Some(Seat::SignedOut(at)) => Some(*at),
            _ => None,
        }
    }

    /// The channels signed out of, with when, by channel.
    pub fn signed_out(&self) -> impl Iterator<Item = (&ChannelId, Millis)> {
        self.0.iter().filter_map(|(channel, seat)| match seat {
            Seat::SignedOut(at) => Some((channel, *at)),
            Seat::SignedIn(_) => None,
        })
    }

    /// The seats of a user record read: its sign-ins, and its sign-out times of the
    /// channels not signed in to (a record naming a channel in both keeps the sign-in).
    pub(crate) fn from_record(sign_ins: SmallMap<ChannelId, SignIn>, signed_out: SmallMap<ChannelId, Millis>) -> Self {
        let mut seats = SignIns::default();
        for (channel, sign_in) in sign_ins {
            seats.sign_in(channel, sign_in);
        }
        for (channel, at) in signed_out {
            if !seats.0.contains_key(&channel) {
                seats.0.insert(channel, Seat::SignedOut(at));
            }
        }
        seats
    }

    /// Holds `sign_in` to `channel` from now on, in place of whatever was there.
    pub fn sign_in(&mut self, channel: ChannelId, sign_in: SignIn) {
        self.0.insert(channel, Seat::SignedIn(sign_in));
    }

    /// Ends the sign-in to `channel` at `at`; whether there was one.
    pub fn sign_out<Q: Eq + ?Sized>(&mut self, channel: &Q, at: Millis) -> bool
    where
        ChannelId: Borrow<Q>,
    {
        match self.0.get_mut(channel) {
            Some(seat @ Seat::SignedIn(_)) => {
                *seat = Seat::SignedOut(at);
                true
            }
            _ => false,
        }
    }
}

/// The sign-ins as a map by channel (a user's `sign_ins` on the wire).
pub(crate) struct SignInsOnly<'a>(pub &'a SignIns);

impl Serialize for SignInsOnly<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (channel, sign_in) in self.0.iter() {
            map.serialize_entry(channel, sign_in)?;
        }
        map.end()
    }
}

/// The sign-out times as a map by channel (a user's `signed_out` on the wire).
pub(crate) struct SignedOutOnly<'a>(pub &'a SignIns);

impl SignedOutOnly<'_> {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.signed_out().next().is_none()
    }
}

impl Serialize for SignedOutOnly<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (channel, at) in self.0.signed_out() {
            map.serialize_entry(channel, &at)?;
        }
        map.end()
    }
}

impl fmt::Debug for SignIns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use crate::model::ids::{Actor, ChannelId, Millis, UserId};
    use crate::model::state::{SignIn, User};

    fn ms(at: u64) -> Millis {
        Millis::new(at).unwrap()
    }

    fn channel(id: &str) -> ChannelId {
        ChannelId::new(id).unwrap()
    }

    fn sign_in(at: u64) -> SignIn {
        SignIn { since: ms(at), by: Actor::User(UserId::new("ana").unwrap()), pause: None, resumed: None }
    }

    fn ana() -> User {
        serde_json::from_str(r#"{"name": "Ana", "roles": ["agent"], "assignments": {}, "sign_ins": {}, "devices": []}"#)
            .unwrap()
    }

    /// The wire keeps its two maps — sign-ins, and sign-out times of the channels not
    /// signed in to — whatever the user does, in any order.
    #[test]
    fn a_user_is_written_with_sign_ins_and_sign_out_times_apart() {
        let mut ana = ana();
        ana.sign_ins.sign_in(channel("sales"), sign_in(1000));
        ana.sign_ins.sign_in(channel("billing"), sign_in(1500));
        assert!(ana.sign_ins.sign_out(&channel("sales"), ms(2000)));
        assert!(!ana.sign_ins.sign_out(&channel("sales"), ms(2500)), "signed out already: the time stays");
        assert!(!ana.sign_ins.sign_out(&channel("chat"), ms(2500)), "never signed in");
        let json = serde_json::to_value(&ana).unwrap();
        assert_eq!(json["sign_ins"], serde_json::json!({"billing": {"since": 1500, "by": "ana"}}));
        assert_eq!(json["signed_out"], serde_json::json!({"sales": 2000}));
        assert_eq!(ana.sign_ins.len(), 1);
        assert_eq!(ana.sign_ins.signed_out_at("sales"), Some(ms(2000)));
        assert_eq!(ana.sign_ins.signed_out_at("billing"), None, "signed in: no sign-out time");

        ana.sign_ins.sign_in(channel("sales"), sign_in(3000));
        let json = serde_json::to_value(&ana).unwrap();
        assert!(json.get("signed_out").is_none(), "nothing signed out: the field is left out, as before");
        assert_eq!(ana.sign_ins.keys().map(ChannelId::as_str).collect::<Vec<_>>(), ["billing", "sales"]);

        let read: User = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(read, ana);
        assert_eq!(serde_json::to_value(&read).unwrap(), json);
    }

    /// A record naming a channel both signed in to and signed out of (a hand-edited or
    /// foreign snapshot) keeps the sign-in; an unknown field is refused as before.
    #[test]
    fn a_record_read_keeps_a_sign_in_over_a_sign_out_time_and_refuses_unknown_fields() {
        let user: User = serde_json::from_str(
            r#"{"name": "Ana", "roles": ["agent"], "assignments": {}, "devices": [],
                "sign_ins": {"sales": {"since": 1000, "by": "ana"}}, "signed_out": {"sales": 500, "chat": 700}}"#,
        )
        .unwrap();
        assert!(user.sign_ins.contains_key("sales"));
        assert_eq!(user.sign_ins.signed_out_at("sales"), None);
        assert_eq!(user.sign_ins.signed_out_at("chat"), Some(ms(700)));
        let unknown = serde_json::from_str::<User>(
            r#"{"name": "Ana", "roles": [], "assignments": {}, "sign_ins": {}, "devices": [], "seats": {}}"#,
        );
        assert!(unknown.unwrap_err().to_string().contains("unknown field `seats`"));
    }
}
