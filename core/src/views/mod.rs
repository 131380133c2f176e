//! What dashboards ask (§5): pure functions of the state (and the time `at`, for
//! wrap-up countdowns and time in state), or of the event log for [`history`] and [`activity`].

mod activity;
mod agent_dashboard;
mod allowed_actions;
mod fold_table;
mod history;
mod lingering;
mod roster;
mod routing_board;
mod search;
mod time_in_state;
mod vocabulary;

pub use activity::{
    ActivityReport, ActivityRow, ActivityTotals, AgentState, Situation, StateInterval, activity, activity_from,
};
pub use agent_dashboard::{AgentDashboard, HeardSupervisor, MyChannel, MyInteraction, agent_dashboard};
pub use allowed_actions::{AllowedActions, ByMode, Verdict, allowed_actions};
pub use history::history;
pub use lingering::{LingeringSignIn, lingering_unassigned};
pub use roster::{
    DeviceView, InteractionView, MonitorView, Roster, RosterEntry, SignInView, WrapUpView, roster, roster_seen,
};
pub use routing_board::{RoutingBoard, RunningInteraction, routing_board};
pub use search::{UserMatch, fold, search_users};
pub use time_in_state::{
    AgentNow, ChannelStates, StateCounts, agent_now, channel_states, channel_states_seen, counts_by_channel,
};
pub use vocabulary::{Vocabulary, vocabulary};
