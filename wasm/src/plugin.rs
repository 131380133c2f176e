//! What each export of the plugin ABI answers, as safe code over bytes. `abi.rs` only moves
//! the bytes across linear memory; this part is the same natively and inside wasm, so a
//! test can hold the module in wasmtime against it byte for byte.

use agentstate_core::wire::{self, Outcome};
use agentstate_core::{Rejection, Tenant};

use crate::facade::{self, Unreadable};

pub use agentstate_abi::{ABI_VERSION, Call, Status};

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
            Ok(text) => self.answer_text(call, text).map_err(|unreadable| unreadable.to_string()),
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

    fn answer_text(&mut self, call: Call, text: &str) -> Result<Status, Unreadable> {
        let out = &mut self.answer;
        match call {
            Call::Start => self.tenant = facade::start(text)?,
            Call::Restore => self.tenant = facade::restore(text)?,
            Call::Apply => facade::apply(&mut self.tenant, text)?,
            Call::Handle => {
                let outcome = self.tenant.answer(text);
                wire::write_json(out, &outcome);
                return Ok(if outcome.is_accepted() { Status::Ok } else { Status::Rejected });
            }
            Call::HandleBatch => facade::handle_batch(&mut self.tenant, text, out)?,
            Call::Query => out.extend_from_slice(facade::query(&self.tenant, text)?.as_bytes()),
            Call::Snapshot => wire::write_json(out, self.tenant.state()),
        }
        Ok(Status::Ok)
    }
}
