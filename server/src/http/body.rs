//! A command request's body: one command (an object) or a batch (an array). Each object
//! acts as the caller (an `actor` naming anyone else is refused) and gets its `at` from the
//! server's clock; anything else goes to the module as sent, which answers it with a
//! located `invalid_command`.

use serde::Deserialize;
use std::borrow::Cow;
use std::collections::BTreeSet;

use serde::de::{IgnoredAny, MapAccess};
use serde_json::Value;
use serde_json::value::RawValue;

use super::errors::ApiError;
use crate::service::Incoming;
use crate::service::stamp::with_first_key;

/// Most commands in one request.
pub const MAX_BATCH: usize = 1000;

/// What a body asks for.
#[derive(Debug)]
pub struct Commands {
    /// Sent as an array: answered with `{"results": […]}`.
    pub batch: bool,
    pub commands: Vec<Incoming>,
}

/// Reads a body sent by `actor`.
pub fn commands_of(body: &[u8], actor: &str) -> Result<Commands, ApiError> {
    let batch = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    let items: Result<Vec<&RawValue>, _> = match batch {
        true => serde_json::from_slice(body),
        false => serde_json::from_slice(body).map(|one| vec![one]),
    };
    // Not JSON, or not UTF-8: the module says precisely where and what.
    let Ok(items) = items else {
        return Ok(Commands { batch: false, commands: vec![Incoming::Unread(body.to_vec())] });
    };
    if items.len() > MAX_BATCH {
        return Err(ApiError::BatchTooLarge { count: items.len(), max: MAX_BATCH });
    }
    let commands = items.into_iter().map(|item| incoming(actor, item)).collect::<Result<_, _>>()?;
    Ok(Commands { batch, commands })
}

/// One command of the body: an object (read once, keys and the values the API checks),
/// passed on as its own text with the caller's `actor` put in front when it names none —
/// or the text as sent, which the module refuses, saying why (not an object; a key given
/// twice).
fn incoming(actor: &str, item: &RawValue) -> Result<Incoming, ApiError> {
    let Ok(Scanned::Object { actor: named, at, id }) = serde_json::from_str::<Scanned>(item.get()) else {
        return Ok(Incoming::Unread(item.get().as_bytes().to_vec()));
    };
    let text = match named {
        None => with_first_key("actor", &Value::String(actor.to_owned()), item.get()),
        Some(Value::String(named)) if named == actor => item.get().to_owned(),
        Some(other) => {
            return Err(ApiError::ActorMismatch { actor: actor.to_owned(), named: other });
        }
    };
    if at {
        return Err(ApiError::AtNotAllowed);
    }
    Ok(Incoming::Object { text, id })
}

/// What the API checks of a command, read in one pass over it: whether it is an object
/// whose keys are each given once, its `actor`, whether it has an `at`, and its `id`.
enum Scanned {
    Object {
        actor: Option<Value>,
        at: bool,
        id: Option<String>,
    },
    /// A key given twice, or not an object.
    Other,
}

impl<'de> Deserialize<'de> for Scanned {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Scanned;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scanned, A::Error> {
                let (mut actor, mut at, mut id) = (None, false, None);
                // A set, not a list: a body of many keys must not cost their square.
                let mut keys: BTreeSet<Cow<'de, str>> = BTreeSet::new();
                let mut repeated = false;
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    match key.as_ref() {
                        "actor" => actor = Some(map.next_value::<Value>()?),
                        "id" => id = map.next_value::<Value>()?.as_str().map(str::to_owned),
                        "at" => {
                            at = true;
                            map.next_value::<IgnoredAny>()?;
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                    repeated |= !keys.insert(key);
                }
                Ok(if repeated { Scanned::Other } else { Scanned::Object { actor, at, id } })
            }
        }
        d.deserialize_map(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(incoming: &Incoming) -> (&str, Option<&str>) {
        match incoming {
            Incoming::Object { text, id } => (text, id.as_deref()),
            Incoming::Raw(bytes) | Incoming::Unread(bytes) => {
                panic!("passed on unstamped: {}", String::from_utf8_lossy(bytes))
            }
        }
    }

    #[test]
    fn a_command_keeps_its_text_and_gains_the_callers_actor() {
        let read = commands_of(br#"{"type":"pause","user":"ana", "id":"c1"}"#, "sam").expect("read");
        assert_eq!(
            object(&read.commands[0]),
            (r#"{"actor":"sam","type":"pause","user":"ana", "id":"c1"}"#, Some("c1"))
        );
        let read = commands_of(br#"[{"actor":"sam","type":"resume","user":"ana"}, {}]"#, "sam").expect("read");
        assert_eq!(object(&read.commands[0]), (r#"{"actor":"sam","type":"resume","user":"ana"}"#, None));
        assert_eq!(object(&read.commands[1]), (r#"{"actor":"sam"}"#, None));
    }

    #[test]
    fn a_repeated_key_is_passed_on_for_the_module_to_refuse() {
        let read = commands_of(br#"{"type":"pause","actor":"sam","actor":"ana"}"#, "sam").expect("read");
        assert!(matches!(read.commands[0], Incoming::Unread(_)));
    }
}
