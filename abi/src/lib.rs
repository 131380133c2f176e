//! The plugin ABI's vocabulary, declared once for both sides: the module (`agentstate-wasm`,
//! which implements the exports) and a host (`agentstate-runtime`, which calls them). A
//! host depends on this crate, not on the rules. What the bytes mean: `wasm/ABI.md`.

#![forbid(unsafe_code)]

/// Bumped on any incompatible change to the exports or their byte formats.
/// 2: every answer starts with a status byte ([`Status`]).
pub const ABI_VERSION: u32 = 2;

/// The export that answers [`ABI_VERSION`].
pub const VERSION_EXPORT: &str = "agentstate_abi_version";
/// The export that reserves input bytes inside the instance.
pub const ALLOC_EXPORT: &str = "agentstate_alloc";
/// The export that gives reserved bytes back.
pub const FREE_EXPORT: &str = "agentstate_free";
/// The instance's exported linear memory.
pub const MEMORY_EXPORT: &str = "memory";

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
        self.export().trim_start_matches("agentstate_")
    }

    /// The export's name in the module.
    pub fn export(self) -> &'static str {
        match self {
            Call::Start => "agentstate_start",
            Call::Restore => "agentstate_restore",
            Call::Apply => "agentstate_apply",
            Call::Handle => "agentstate_handle",
            Call::HandleBatch => "agentstate_handle_batch",
            Call::Query => "agentstate_query",
            Call::Snapshot => "agentstate_snapshot",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_byte_reads_back_as_its_status_and_no_other_byte_does() {
        for status in [Status::Ok, Status::Rejected, Status::Error] {
            assert_eq!(Status::from_byte(status as u8), Some(status));
        }
        assert!((3..=u8::MAX).all(|byte| Status::from_byte(byte).is_none()));
    }

    #[test]
    fn every_call_has_its_own_export_and_abi_md_documents_it() {
        let abi_md = include_str!("../../wasm/ABI.md");
        let mut names: Vec<&str> = Call::ALL.iter().map(|call| call.export()).collect();
        names.extend([VERSION_EXPORT, ALLOC_EXPORT, FREE_EXPORT]);
        for name in &names {
            assert!(abi_md.contains(name), "ABI.md does not document {name}");
        }
        let title = format!("# The agentstate plugin ABI (version {ABI_VERSION})");
        assert!(abi_md.starts_with(&title), "ABI.md is not titled with version {ABI_VERSION}");
        let row = format!("| `{VERSION_EXPORT}` | `() -> u32` | — | `{ABI_VERSION}`;");
        assert!(abi_md.contains(&row), "ABI.md's {VERSION_EXPORT} does not answer {ABI_VERSION}");
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Call::ALL.len() + 3, "an export name twice");
    }
}
