//! What a tenant is made of — ids, channels, settings, devices, users, the state, the
//! commands and events and rejections — and the fold of events into state. No rule lives
//! here: the rules (`crate::rules`) decide over this model, and the views read it.

pub mod channel;
pub mod command;
pub mod device;
pub mod ended_interactions;
pub mod event;
pub mod evolve;
pub mod id_map;
pub mod ids;
pub mod monitoring;
pub mod rejection;
pub mod roles;
pub mod settings;
pub mod sign_ins;
pub mod state;
