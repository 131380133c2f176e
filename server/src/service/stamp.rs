//! A command's text extended in front — the host's `at` stamped on it, the caller's `actor`
//! put on it by the API — without parsing or writing the rest again.

use serde_json::Value;

/// `object` (the text of a JSON object without `key`) with `"key": value` as its first
/// member: the object is not parsed or written again, only extended.
pub fn with_first_key(key: &str, value: &Value, object: &str) -> String {
    let rest = object.trim_start().strip_prefix('{').unwrap_or(object);
    let separator = if rest.trim_start().starts_with('}') { "" } else { "," };
    format!("{{{}:{value}{separator}{rest}", Value::String(key.to_owned()))
}
