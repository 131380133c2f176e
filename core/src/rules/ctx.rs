//! What every rule is given: the command being decided, with its actor and subject
//! looked up.

use crate::model::event::{Change, Event};
use crate::model::ids::{Actor, Millis, UserId};
use crate::model::rejection::Rejection;
use crate::model::state::{State, User};
use crate::rules::sight::Sight;

/// What every rule needs to know about the command being decided. The acting user and
/// the command's subject are looked up once, here, rather than by every rule.
pub(crate) struct Ctx<'a> {
    pub state: &'a State,
    pub actor: &'a Actor,
    /// The acting user's record; `None` for `"system"`.
    pub actor_user: Option<&'a User>,
    /// What the actor sees: a command is decided on no more (law 3 of `rules::sight`).
    pub sight: Sight<'a>,
    /// The `user` the command names, once known to exist.
    pub(crate) subject: Option<(&'a UserId, &'a User)>,
    pub at: Millis,
    pub command: &'static str,
}

impl<'a> Ctx<'a> {
    pub fn event(&self, change: Change) -> Event {
        Event { at: self.at, by: self.actor.clone(), change }
    }

    /// The user `id`, known to exist once `decide` checked the command's references.
    pub fn user(&self, id: &UserId) -> Result<&'a User, Rejection> {
        match self.subject {
            Some((subject, user)) if subject == id => Ok(user),
            _ => self.state.user(id).ok_or_else(|| Rejection::UnknownUser { user: id.clone() }),
        }
    }

    pub fn is_self(&self, user: &UserId) -> bool {
        self.actor.is(user)
    }
}
