//! The JSON wire: decoding commands with located errors, and the outcome every runtime
//! returns. Decoding lives in the core so that an `invalid_command` reads the same in
//! the browser, in wasmtime and natively.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::de::value::{MapAccessDeserializer, MapDeserializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::model::command::{Action, Command, ExternallyTagged};
use crate::model::event::Event;
use crate::model::rejection::{Messages, Rejection};
use crate::model::state::State;
use crate::rules::decide::handle;

/// Largest command accepted, in bytes of JSON. Real commands are a few hundred bytes;
/// `set_pause_reasons` with 100 long reasons stays well below.
pub const MAX_COMMAND_BYTES: usize = 64 * 1024;

/// Decodes one command from JSON text.
///
/// One borrowing pass splits the object into raw field texts; the envelope fields are read
/// from theirs, and the action is streamed from `{"<type>": {<the other fields>}}` as an
/// externally tagged enum, whose errors carry the exact path of the bad field.
pub fn decode_command(json: &str) -> Result<Command, Rejection> {
    if json.len() > MAX_COMMAND_BYTES {
        return Err(Rejection::invalid(
            "$",
            format_args!("the command is {} bytes; at most {MAX_COMMAND_BYTES} are accepted", json.len()),
        ));
    }
    let Fields { mut fields, repeated } = serde_json::from_str(json).map_err(|e| {
        if e.is_data() {
            Rejection::invalid("$", format_args!("expected a JSON object, found {}", describe(json)))
        } else {
            Rejection::invalid(format!("line {}, column {}", e.line(), e.column()), problem(&e))
        }
    })?;
    // Two parsers that keep different copies of a repeated key would see two commands:
    // a repeated key is refused, never resolved.
    if let Some(Key(key)) = repeated {
        return Err(Rejection::invalid(key.as_ref(), format_args!("the key `{key}` appears more than once")));
    }
    let actor = fields.remove("actor");
    let at = fields.remove("at");
    let id = fields.remove("id");
    let kind = match fields.remove("type") {
        None => return Err(Rejection::invalid("type", "missing field `type`")),
        Some(raw) => serde_json::from_str::<Cow<'_, str>>(raw.get()).map_err(|_| {
            Rejection::invalid("type", format_args!("expected a string, found {}", describe(raw.get())))
        })?,
    };
    let Some(kind) = Action::TYPES.iter().find(|t| **t == kind) else {
        return Err(Rejection::invalid(
            "type",
            format_args!("unknown command type `{kind}`; expected one of {}", Action::TYPES.join(", ")),
        ));
    };
    // `{"<type>": {<the other fields>}}`, served from the raw field texts without a
    // second parse of the whole command.
    let reshaped = || {
        let fields = fields.iter().map(|(Key(k), v)| (k.as_ref(), *v));
        MapAccessDeserializer::new(MapDeserializer::<_, serde_json::Error>::new(std::iter::once((
            *kind,
            MapDeserializer::new(fields),
        ))))
    };
    let action: Action = match ExternallyTagged::deserialize(reshaped()) {
        Ok(action) => action.into(),
        // Tracking the path costs an allocation per field, so it is paid only to explain
        // a failure.
        Err(_) => serde_path_to_error::deserialize::<_, ExternallyTagged>(reshaped())
            .map_err(|e| {
                // The first segment is the reshaped `type`; the rest is the field's path.
                let path = e.path().to_string();
                let location = path.split_once('.').map_or("$", |(_, field)| field).to_owned();
                Rejection::invalid(location, problem(e.inner()))
            })?
            .into(),
    };
    Ok(Command {
        actor: required(actor, "actor")?,
        at: required(at, "at")?,
        id: match id {
            Some(raw) if raw.get() != "null" => Some(field(raw, "id")?),
            _ => None,
        },
        action,
    })
}

/// A field name, borrowed from the input unless it had escapes.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Key<'a>(Cow<'a, str>);

impl std::borrow::Borrow<str> for Key<'_> {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
        }
        d.deserialize_str(Visitor)
    }
}

/// A command's top-level fields as raw texts, and the first key given twice, if any.
struct Fields<'a> {
    fields: BTreeMap<Key<'a>, &'a RawValue>,
    repeated: Option<Key<'a>>,
}

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
                let mut found = Fields { fields: BTreeMap::new(), repeated: None };
                while let Some((key, value)) = map.next_entry::<Key<'de>, &'de RawValue>()? {
                    if found.fields.contains_key(key.0.as_ref()) {
                        found.repeated.get_or_insert(key);
                    } else {
                        found.fields.insert(key, value);
                    }
                }
                Ok(found)
            }
        }
        d.deserialize_map(Visitor)
    }
}

fn required<T: for<'de> Deserialize<'de>>(raw: Option<&RawValue>, name: &str) -> Result<T, Rejection> {
    field(raw.ok_or_else(|| Rejection::invalid(name, format_args!("missing field `{name}`")))?, name)
}

fn field<T: for<'de> Deserialize<'de>>(raw: &RawValue, name: &str) -> Result<T, Rejection> {
    serde_json::from_str(raw.get()).map_err(|e| Rejection::invalid(name, problem(&e)))
}

/// serde_json's message without its position, which points into text the user never wrote.
fn problem(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(cut) if e.line() > 0 => text[..cut].to_owned(),
        _ => text,
    }
}

/// What kind of JSON value `text` holds, from its first character.
fn describe(text: &str) -> &'static str {
    match text.trim_start().chars().next() {
        Some('[') => "an array",
        Some('{') => "an object",
        Some('"') => "a string",
        Some('t' | 'f') => "a boolean",
        Some('n') => "null",
        _ => "a number",
    }
}

/// What a runtime answers for one command.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Accepted { events: Vec<Event> },
    Rejected { rejection: RejectionReport },
}

/// A rejection with its messages, as sent to clients.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "typescript", tsify(type = "Rejection & { message: Messages }"))]
pub struct RejectionReport {
    #[serde(flatten)]
    pub rejection: Rejection,
    pub message: Messages,
}

impl From<Rejection> for RejectionReport {
    fn from(rejection: Rejection) -> Self {
        let message = rejection.messages();
        RejectionReport { rejection, message }
    }
}

impl Outcome {
    pub fn from_result(result: Result<Vec<Event>, Rejection>) -> Outcome {
        match result {
            Ok(events) => Outcome::Accepted { events },
            Err(rejection) => Outcome::Rejected { rejection: rejection.into() },
        }
    }

    pub fn is_accepted(&self) -> bool {
        matches!(self, Outcome::Accepted { .. })
    }
}

/// Decodes, decides and applies one JSON command: the whole job of a runtime.
pub fn handle_json(state: &mut State, json: &str) -> Outcome {
    Outcome::from_result(decode_command(json).and_then(|c| handle(state, &c)))
}

/// Appends `value`'s JSON to `out` (see [`to_json`]).
pub fn write_json<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    let start = out.len();
    if let Err(e) = serde_json::to_writer(&mut *out, value) {
        out.truncate(start);
        out.extend_from_slice(format!("{{\"error\":{:?}}}", e.to_string()).as_bytes());
    }
}

/// A view's answer as JSON, its objects' keys in sorted order: the order answers have had
/// on the wire from the first version on (the rule suites' snapshots and the conformance
/// bytes fix it), whatever order the typed views declare their fields in.
pub fn answer_json(answer: &crate::Answer<'_>) -> String {
    match serde_json::to_value(answer) {
        Ok(value) => to_json(&value),
        Err(e) => format!("{{\"error\":{:?}}}", e.to_string()),
    }
}

/// Serialises `value` to JSON. Our types have string keys and no failing `Serialize`,
/// so this cannot fail; the fallback keeps it total anyway.
pub fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| format!("{{\"error\":{:?}}}", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rejection::InvalidCommand;

    fn problem(json: &str) -> (String, String) {
        match decode_command(json) {
            Err(InvalidCommand { location, problem }) => (location, problem),
            other => panic!("expected invalid_command, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_command_decodes_with_its_envelope() {
        let c = decode_command(
            r#"{"type":"pause","actor":"ana","at":5,"user":"ana","reason":"lunch","channel":null,"id":"c1"}"#,
        )
        .unwrap();
        assert_eq!(c.action.type_name(), "pause");
        assert_eq!(c.at.get(), 5);
        assert_eq!(c.id.as_ref().map(|i| i.as_str()), Some("c1"));
        assert!(matches!(c.action, Action::Pause { channel: None, .. }));
    }

    #[test]
    fn bad_input_is_located() {
        assert_eq!(problem(r#"{"type":"sign_in","#).0, "line 1, column 18");
        assert_eq!(problem("[1]"), ("$".into(), "expected a JSON object, found an array".into()));
        assert_eq!(problem(r#"{"actor":"a","at":1}"#).0, "type");
        let (loc, p) = problem(r#"{"type":"dance","actor":"a","at":1}"#);
        assert_eq!(loc, "type");
        assert!(p.starts_with("unknown command type `dance`"), "{p}");
        let (loc, p) = problem(r#"{"type":"pause","actor":"a","at":1,"user":"a","reason":"x","chanel":"s"}"#);
        assert_eq!(loc, "chanel");
        assert!(p.contains("unknown field `chanel`"), "{p}");
        let (loc, p) = problem(r#"{"type":"set_roles","actor":"a","at":1,"user":"b","roles":["agent","boss"]}"#);
        assert_eq!(loc, "roles[1]");
        assert!(p.contains("unknown variant `boss`"), "{p}");
        assert_eq!(problem(r#"{"type":"sign_out_all","actor":"a","user":"b"}"#).0, "at");
        assert_eq!(
            problem(r#"{"type":"sign_out_all","actor":"a","at":1}"#),
            ("$".into(), "missing field `user`".into())
        );
        assert_eq!(problem(r#"{"type":"sign_out_all","actor":"a","at":1.5,"user":"b"}"#).0, "at");
        assert_eq!(problem(r#"{"type":"sign_out_all","actor":"a","at":1,"user":""}"#).0, "user");
        let big = format!(r#"{{"type":"sign_out_all","actor":"a","at":1,"user":"{}"}}"#, "x".repeat(MAX_COMMAND_BYTES));
        assert!(problem(&big).1.contains("at most 65536"));
    }

    #[test]
    fn a_repeated_key_is_refused_by_name_wherever_it_is() {
        for (json, key) in [
            (r#"{"actor":"ana","actor":"ada","at":1,"type":"sign_out_all","user":"ana"}"#, "actor"),
            (r#"{"actor":"ana","at":1,"type":"sign_out_all","user":"ana","user":"ben"}"#, "user"),
            (r#"{"type":"sign_out_all","actor":"ana","at":1,"user":"ana","type":"sign_in"}"#, "type"),
            (r#"{"actor":"ana","at":1,"at":2,"type":"sign_out_all","user":"ana"}"#, "at"),
            (r#"{"actor":"ana","at":1,"type":"sign_out_all","user":"ana","\u0075ser":"ben"}"#, "user"),
        ] {
            assert_eq!(problem(json), (key.to_owned(), format!("the key `{key}` appears more than once")), "{json}");
        }
    }

    #[test]
    fn commands_round_trip_through_their_wire_form() {
        let json = r#"{"actor":"ada","at":7,"type":"assign","user":"ana","channel":"sales","as":"supervisor"}"#;
        let c = decode_command(json).unwrap();
        assert_eq!(to_json(&c), json);
    }
}
