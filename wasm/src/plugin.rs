//! What each export of the plugin ABI answers, as safe code over bytes. `abi.rs` only moves
//! the bytes across linear memory; this part is the same natively and inside wasm, so a
//! test can hold the module in wasmtime against it byte for byte.

use agentstate_core::wire::{self, Outcome};
use agentstate_core::{Rejection, Tenant};

/// Bumped on any incompatible change to the exports or their byte formats.
/// 2: every answer starts with a status byte ([`Status`]).
pub const ABI_VERSION: u32 = 2;

/// How a call ended: the first byte of every answer (see `ABI.md`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Status {
    /// The call did what it was asked; the rest of the answer is its result.
    Ok = 0,
    /// The command was refused (`agentstate_handle` only); the rest is its outcome.
    Rejected = 1,
    /// The input is not the kind of document the export takes; the rest is a message in
    /// English (UTF-8 text). Nothing changed.
    Error = 2,
}

impl Status {
    /// The status a host read from an answer's first byte.
    pub fn from_byte(byte: u8) -> Option<Status> {
        [Status::Ok, Status::Rejected, Status::Error].into_iter().find(|s| *s as u8 == byte)
    }
}

/// The exports that take input or answer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Call {
    Start,
    Restore,
    Apply,
    Handle,
    HandleBatch,
    Query,
    Snapshot,
}

impl Call {
    pub const ALL: [Call; 7] =
        [Call::Start, Call::Restore, Call::Apply, Call::Handle, Call::HandleBatch, Call::Query, Call::Snapshot];

    /// The export's name without the `agentstate_` prefix.
    pub fn name(self) -> &'static str {
        match self {
            Call::Start => "start",
            Call::Restore => "restore",
            Call::Apply => "apply",
            Call::Handle => "handle",
            Call::HandleBatch => "handle_batch",
            Call::Query => "query",
            Call::Snapshot => "snapshot",
        }
    }
}

/// One instance's tenant and its last answer, which stays valid until the next call.
#[derive(Debug, Default)]
pub struct Plugin {
    tenant: Tenant,
    answer: Vec<u8>,
}

impl Plugin {
    /// Answers `call` on `input`: the status byte, then the result.
    pub fn call(&mut self, call: Call, input: &[u8]) -> &[u8] {
        // `agentstate_snapshot` takes no input: whatever a caller passes is not read.
        let input = if call == Call::Snapshot { &[] } else { input };
        self.answer.clear();
        self.answer.push(Status::Ok as u8);
        let status = match std::str::from_utf8(input) {
            Ok(text) => self.answer_text(call, text),
            // A command is answered with an outcome, whatever the bytes.
            Err(e) if call == Call::Handle => {
                let invalid = Rejection::invalid("$", format_args!("the command is not UTF-8: {e}"));
                wire::write_json(&mut self.answer, &Outcome::from_result(Err(invalid)));
                Ok(Status::Rejected)
            }
            Err(e) => Err(format!("the input is not UTF-8: {e}")),
        };
        let status = status.unwrap_or_else(|message| {
            self.answer.truncate(1);
            self.answer.extend_from_slice(message.as_bytes());
            Status::Error
        });
        self.answer[0] = status as u8;
        &self.answer
    }

    fn answer_text(&mut self, call: Call, text: &str) -> Result<Status, String> {
        let out = &mut self.answer;
        match call {
            Call::Start => self.tenant = Tenant::from_seed_json(text)?,
            Call::Restore => self.tenant = Tenant::from_snapshot_json(text)?,
            Call::Apply => self.tenant.apply_json(text)?,
            Call::Handle => {
                let outcome = match wire::decode_command(text) {
                    Ok(command) => self.tenant.handle(&command),
                    Err(rejection) => Outcome::from_result(Err(rejection)),
                };
                wire::write_json(out, &outcome);
                return Ok(if outcome.is_accepted() { Status::Ok } else { Status::Rejected });
            }
            Call::HandleBatch => out.extend_from_slice(self.tenant.handle_batch_json(text)?.as_bytes()),
            Call::Query => out.extend_from_slice(self.tenant.query_json(text)?.as_bytes()),
            Call::Snapshot => wire::write_json(out, self.tenant.state()),
        }
        Ok(Status::Ok)
    }
}
