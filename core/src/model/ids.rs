//! Identifiers and bounded text values of the domain.
//!
//! Every id is a `SmolStr`: ids up to 23 bytes are stored inline, so comparing or hashing
//! one touches no other memory and cloning one is a copy; longer ones share an `Arc`.
//! Events, state and views hold many copies of the same ids, and the hot path (decide +
//! evolve) clones and compares them on every command.
//! Validation happens once, at the edge, in `Deserialize`: a value of these types is
//! always well-formed.

use std::borrow::Borrow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smol_str::SmolStr;

/// Why a text value was refused; becomes the `problem` of an `invalid_command`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} must be {min} to {max} bytes without control characters, got {got:?}")]
pub struct TextError {
    what: &'static str,
    min: usize,
    max: usize,
    got: String,
}

fn check_text(s: &str, what: &'static str, min: usize, max: usize) -> Result<(), TextError> {
    if s.len() < min || s.len() > max || s.chars().any(char::is_control) {
        let mut got: String = s.chars().take(40).collect();
        if got.len() < s.len() {
            got.push('…');
        }
        return Err(TextError { what, min, max, got });
    }
    Ok(())
}

/// Reads a string without an intermediate `String` (serde's `Cow<str>` always allocates
/// one), then builds the value from it.
struct TextVisitor<F>(F);

impl<T, F: FnOnce(&str) -> Result<T, TextError>> serde::de::Visitor<'_> for TextVisitor<F> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<T, E> {
        (self.0)(s).map_err(E::custom)
    }
}

macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, $what:literal, $min:expr, $max:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[cfg_attr(feature = "typescript", derive(tsify::Tsify), tsify(type = "string"))]
        pub struct $name(SmolStr);

        impl $name {
            /// Longest accepted value, in UTF-8 bytes.
            pub const MAX_LEN: usize = $max;

            /// Validates and wraps `s`.
            pub fn new(s: &str) -> Result<Self, TextError> {
                check_text(s, $what, $min, $max)?;
                Ok(Self(SmolStr::new(s)))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// For values the core itself knows to be valid.
            #[allow(dead_code)]
            pub(crate) fn from_static(s: &'static str) -> Self {
                Self(SmolStr::new_static(s))
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self.0.as_str(), f)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_str(TextVisitor(|s: &str| Self::new(s)))
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                text_schema($what, $min, $max)
            }
        }
        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}
    };
}

text_type!(
    /// A user of the tenant. `"system"` is lexically valid but can never be created (§4).
    UserId, "a user id", 1, 128
);
text_type!(
    /// A queue, chat or campaign.
    ChannelId, "a channel id", 1, 128
);
text_type!(
    /// A phone, softphone, mobile or web client of a user.
    DeviceId, "a device id", 1, 128
);
text_type!(
    /// One call or chat, unique forever within a tenant.
    InteractionId, "an interaction id", 1, 128
);
text_type!(
    /// The client's id of a command, for idempotent retries at the host.
    CommandId, "a command id", 1, 128
);
text_type!(
    /// A display name of a user or channel.
    Name, "a name", 1, 200
);
text_type!(
    /// A device's label as shown in the "+ Log agent" picker; may be empty.
    Label, "a device label", 0, 200
);
text_type!(
    /// Why an agent is on break ("lunch", "training").
    PauseReason, "a pause reason", 1, 100
);

/// Who issued a command: a user, or the routing engine / telephony / billing.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify), tsify(type = "string"))]
pub enum Actor {
    System,
    User(UserId),
}

impl Actor {
    pub const SYSTEM: &'static str = "system";

    pub fn as_str(&self) -> &str {
        match self {
            Actor::System => Self::SYSTEM,
            Actor::User(u) => u.as_str(),
        }
    }

    pub fn user(&self) -> Option<&UserId> {
        match self {
            Actor::System => None,
            Actor::User(u) => Some(u),
        }
    }

    pub fn is(&self, user: &UserId) -> bool {
        self.user() == Some(user)
    }
}

impl From<UserId> for Actor {
    fn from(u: UserId) -> Self {
        if u.as_str() == Actor::SYSTEM { Actor::System } else { Actor::User(u) }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for Actor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Actor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        UserId::deserialize(d).map(Actor::from)
    }
}

/// Milliseconds since the Unix epoch, within JavaScript's safe integer range so that
/// browsers and servers read the same number (§4).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "typescript", tsify(type = "number"))]
#[serde(transparent)]
pub struct Millis(u64);

impl Millis {
    /// 2^53 − 1, `Number.MAX_SAFE_INTEGER`.
    pub const MAX: Millis = Millis((1 << 53) - 1);
    pub const ZERO: Millis = Millis(0);

    pub fn new(ms: u64) -> Option<Millis> {
        (ms <= Self::MAX.0).then_some(Millis(ms))
    }

    pub fn get(self) -> u64 {
        self.0
    }

    /// `self + secs` seconds, saturating at [`Millis::MAX`] so a deadline stays a safe
    /// integer in JavaScript.
    pub fn plus_secs(self, secs: u32) -> Millis {
        Millis(self.0.saturating_add(u64::from(secs) * 1000).min(Self::MAX.0))
    }

    /// Milliseconds from `self` until `later`, zero when `later` has passed.
    pub fn until(self, later: Millis) -> u64 {
        later.0.saturating_sub(self.0)
    }
}

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl<'de> Deserialize<'de> for Millis {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let what = "a time in milliseconds since the Unix epoch, an integer from 0 to 2^53-1";
        bounded_integer(d, Millis::MAX.0, what).map(Millis)
    }
}

/// Reads a non-negative integer up to `max`; errors say `what` was expected rather
/// than a Rust type name.
pub(crate) fn bounded_integer<'de, D: Deserializer<'de>>(d: D, max: u64, what: &'static str) -> Result<u64, D::Error> {
    struct Bounded {
        max: u64,
        what: &'static str,
    }
    impl serde::de::Visitor<'_> for Bounded {
        type Value = u64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.what)
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<u64, E> {
            if v <= self.max { Ok(v) } else { Err(E::invalid_value(serde::de::Unexpected::Unsigned(v), &self)) }
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v)
                .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
                .and_then(|v| self.visit_u64(v))
        }
    }
    d.deserialize_u64(Bounded { max, what })
}

/// A bounded text value's JSON Schema: what `check_text` accepts. (The ids' serde form is
/// written by hand, so their schemas are too, beside it.)
#[cfg(feature = "openapi")]
pub(crate) fn text_schema(
    description: &str,
    min: usize,
    max: usize,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .description(Some(description))
        .min_length(Some(min))
        .max_length(Some(max))
        .into()
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Actor {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        text_schema("a user id, or `system` for the routing engine, telephony or billing", 1, 128)
    }
}
#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Actor {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_refuse_empty_overlong_and_control_characters() {
        assert!(UserId::new("ana").is_ok());
        assert!(UserId::new("").is_err());
        assert!(UserId::new(&"x".repeat(129)).is_err());
        assert!(UserId::new("a\nb").is_err());
        assert!(Label::new("").is_ok());
    }

    #[test]
    fn the_system_actor_is_not_a_user() {
        let a: Actor = serde_json::from_str("\"system\"").unwrap();
        assert_eq!(a, Actor::System);
        let a: Actor = serde_json::from_str("\"ana\"").unwrap();
        assert_eq!(a.user().map(UserId::as_str), Some("ana"));
    }

    #[test]
    fn time_stays_in_javascripts_safe_range() {
        let e = serde_json::from_str::<Millis>("\"5\"").unwrap_err().to_string();
        assert!(e.contains("expected a time in milliseconds"), "{e}");
        assert!(serde_json::from_str::<Millis>("9007199254740991").is_ok());
        assert!(serde_json::from_str::<Millis>("9007199254740992").is_err());
        assert!(serde_json::from_str::<Millis>("-1").is_err());
        assert!(serde_json::from_str::<Millis>("1.5").is_err());
        assert_eq!(Millis::MAX.plus_secs(30), Millis::MAX);
    }
}
