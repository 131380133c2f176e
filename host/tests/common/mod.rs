//! Requests the API tests make: a command posted with a token, a JSON view read with one.

use agentstate_testkit::ServerProcess;
use reqwest::StatusCode;
use serde_json::Value;

/// Posts `body` to `tenant`'s commands as `token`; the status and the JSON answer (`null`
/// when the answer is not JSON).
pub async fn post(
    client: &reqwest::Client,
    server: &ServerProcess,
    tenant: &str,
    token: &str,
    body: Value,
) -> (StatusCode, Value) {
    let request = client.post(server.url(&format!("/api/tenants/{tenant}/commands"))).bearer_auth(token).json(&body);
    let response = request.send().await.expect("posts");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Reads `path` as `token`; the status and the JSON answer (`null` when it is not JSON).
pub async fn get(client: &reqwest::Client, server: &ServerProcess, path: &str, token: &str) -> (StatusCode, Value) {
    let response = client.get(server.url(path)).bearer_auth(token).send().await.expect("gets");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}
