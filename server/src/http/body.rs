//! A command request's body: one command (an object) or a batch (an array). Each object
//! acts as the caller (an `actor` naming anyone else is refused) and gets its `at` from the
//! server's clock; anything else goes to the module as sent, which answers it with a
//! located `invalid_command`.

use axum::http::StatusCode;
use serde::Deserialize;
use serde::de::MapAccess;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::errors::ApiError;
use crate::service::Incoming;

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
    let Ok(items) = items else { return Ok(Commands { batch: false, commands: vec![Incoming::Raw(body.to_vec())] }) };
    if items.len() > MAX_BATCH {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!("{} commands in one batch; at most {MAX_BATCH}", items.len()),
        ));
    }
    let commands = items.into_iter().map(|item| incoming(actor, item)).collect::<Result<_, _>>()?;
    Ok(Commands { batch, commands })
}

/// One command of the body: an object to stamp, or the text as sent — which the module
/// refuses, saying why (not an object; a key given twice).
fn incoming(actor: &str, item: &RawValue) -> Result<Incoming, ApiError> {
    let Ok(Strict::Object(mut fields)) = serde_json::from_str::<Strict>(item.get()) else {
        return Ok(Incoming::Raw(item.get().as_bytes().to_vec()));
    };
    match fields.get("actor") {
        None => {
            fields.insert("actor".into(), Value::String(actor.to_owned()));
        }
        Some(Value::String(named)) if named == actor => {}
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "actor_mismatch",
                format!("this token acts as {actor}; a command cannot name actor {other}"),
            ));
        }
    }
    if fields.contains_key("at") {
        return Err(ApiError::bad_request(
            "at_not_allowed",
            "`at` is set by the server's clock; leave it out of the command",
        ));
    }
    Ok(Incoming::Object(fields))
}

/// A JSON value read as an object whose keys are each given once.
enum Strict {
    Object(Map<String, Value>),
    /// A key given twice, or not an object.
    Other,
}

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Strict;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
                let mut fields = Map::new();
                let mut repeated = false;
                while let Some((key, value)) = map.next_entry::<String, Value>()? {
                    repeated |= fields.insert(key, value).is_some();
                }
                Ok(if repeated { Strict::Other } else { Strict::Object(fields) })
            }
        }
        d.deserialize_map(Visitor)
    }
}
