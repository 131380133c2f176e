use crate::model::event::Event;

/// The events of `log` that touched `user` — as subject, or as the supervisor of a
/// monitoring — in log order. The state keeps no history (it would grow without bound
/// and bloat every snapshot), so this reads the event log the state was folded from.
pub fn history<'e>(log: impl IntoIterator<Item = &'e Event>, user: &str) -> Vec<&'e Event> {
    log.into_iter().filter(|e| e.change.users().iter().flatten().any(|u| u.as_str() == user)).collect()
}
