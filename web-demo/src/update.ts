// The page's one update: every change of the UI state is a message, and `update` is the
// one place that applies it and says what must be drawn again. Handlers and the server's
// answers `send` messages; nothing else writes `ui`, and drawing only reads it. What a
// message sets off besides (a request, the focus, the browser's storage) stays with the
// handler that sends it.

import type { AgentState, ChannelKind, Role } from "agentstate";
import type { ChannelCounts } from "./api.js";
import {
  landing,
  noCounts,
  noForm,
  redraw,
  screensOf,
  ui,
  type AdminForm,
  type Match,
  type Picker,
  type Screen,
  type SortBy,
  type UiState,
} from "./context.js";
import type { Lang } from "./i18n.js";

/** The admin form's fields that hold one value (the ticked lists have `form_pick`). */
type FormValues = Omit<AdminForm, "users" | "channels" | "userRoles" | "roleTicks">;

/** Everything that changes the UI state. */
export type Msg =
  /** Another user's view of the tenant was opened (at start, or the demo's "act as"). */
  | { kind: "opened"; actor: string; roles: readonly Role[] }
  /** The user's roles may have changed (a snapshot, or an event about them): a screen they no longer have gives way. */
  | { kind: "roles_seen"; roles: readonly Role[] }
  | { kind: "screen_chosen"; screen: Screen }
  | { kind: "tab_chosen"; tab: ChannelKind }
  | { kind: "filter_changed"; text?: string; state?: AgentState | ""; sort?: SortBy }
  | { kind: "lang_chosen"; lang: Lang }
  /** The Actions menu `key` opened (null: closed) on `channel`'s card (none: wherever). */
  | { kind: "menu"; key: string | null; channel?: string }
  | { kind: "pause_reason_chosen"; reason: string }
  | { kind: "channel_ticked"; channel: string; on: boolean }
  | { kind: "ticks_cleared" }
  /** The history panel's pages (null: closed), asked for in `view`. */
  | { kind: "history"; view: number; history: UiState["history"] }
  | { kind: "timeline"; view: number; timeline: UiState["timeline"] }
  /** The "+ Log agent" picker opened on `channel`, or closed. */
  | { kind: "log_agent"; channel: string | null }
  /** The picker asks the server again for `text` and `roles` (each as given, else as they were). */
  | { kind: "log_agent_asked"; text?: string; roles?: Role[] }
  /** The server's matches for the picker's `asked`-th search. */
  | { kind: "log_agent_found"; asked: number; matches: Match[] }
  | { kind: "log_agent_expanded"; user: string }
  | { kind: "sso"; view: number; sso: UiState["sso"] }
  | { kind: "form"; set: Partial<FormValues> }
  | { kind: "form_pick"; list: "users" | "channels" | "userRoles"; key: string; on: boolean }
  /** A role of `user` ticked or not, the user having `current`. */
  | { kind: "role_ticked"; user: string; current: readonly Role[]; role: Role; on: boolean }
  /** A request for the agent's counts went out (`again`: one was under way, ask once more after it). */
  | { kind: "counts_asked" }
  | { kind: "counts_answered"; channels: ChannelCounts[] }
  | { kind: "counts_failed" }
  | { kind: "counts_done" };

/**
 * What a message makes stale: nothing, the screen and side panels, some channels' cards
 * (with the panels), all cards, or everything (the header, screens, tabs and toolbar too).
 */
export type Drawing = "nothing" | "panels" | { cards: string[] } | "all" | "everything";

/** Applies `msg` to `state` and says what must be drawn again. */
export function update(state: UiState, msg: Msg): Drawing {
  switch (msg.kind) {
    case "opened":
      Object.assign(state, {
        view: state.view + 1,
        actor: msg.actor,
        tab: "queue",
        filter: { text: "", state: "", sort: "name" },
        pauseReason: "",
        screen: landing(msg.roles),
        openMenu: null,
        counts: noCounts(),
        history: null,
        timeline: null,
        picked: new Set(),
        sso: null,
        form: noForm(),
      });
      return "everything";
    case "roles_seen":
      if (!screensOf(msg.roles).includes(state.screen)) state.screen = landing(msg.roles);
      return "everything";
    case "screen_chosen":
      state.screen = msg.screen;
      state.openMenu = null;
      return "everything";
    case "tab_chosen":
      state.tab = msg.tab;
      state.openMenu = null;
      return "everything";
    case "filter_changed":
      if (msg.text !== undefined) state.filter.text = msg.text;
      if (msg.state !== undefined) state.filter.state = msg.state;
      if (msg.sort !== undefined) state.filter.sort = msg.sort;
      return "all";
    case "lang_chosen":
      state.lang = msg.lang;
      return "everything";
    case "menu":
      state.openMenu = msg.key;
      return msg.channel === undefined ? "all" : { cards: [msg.channel] };
    case "pause_reason_chosen":
      state.pauseReason = msg.reason;
      return "nothing";
    case "channel_ticked":
      tick(state.picked, msg.channel, msg.on);
      return "panels";
    case "ticks_cleared":
      state.picked.clear();
      return "panels";
    case "history":
      if (msg.view !== state.view) return "nothing";
      state.history = msg.history;
      return "panels";
    case "timeline":
      if (msg.view !== state.view) return "nothing";
      state.timeline = msg.timeline;
      return "panels";
    case "log_agent":
      state.logAgent =
        msg.channel === null
          ? null
          : { channel: msg.channel, text: "", roles: [], expanded: new Set(), matches: null, asked: 0 };
      return "nothing";
    case "log_agent_asked":
      return picker(state, (p) => {
        p.text = msg.text ?? p.text;
        p.roles = msg.roles ?? p.roles;
        p.asked += 1;
        p.matches = null;
      });
    case "log_agent_found":
      return picker(state, (p) => {
        if (p.asked === msg.asked) p.matches = msg.matches;
      });
    case "log_agent_expanded":
      return picker(state, (p) => {
        if (!p.expanded.delete(msg.user)) p.expanded.add(msg.user);
      });
    case "sso":
      if (msg.view !== state.view) return "nothing";
      state.sso = msg.sso;
      return "panels";
    case "form":
      Object.assign(state.form, msg.set);
      return "panels";
    case "form_pick": {
      tick(state.form[msg.list], msg.key, msg.on);
      // Roles ticked for one user are not another's.
      if (msg.list === "users") state.form.roleTicks = null;
      return "panels";
    }
    case "role_ticked": {
      if (state.form.roleTicks?.user !== msg.user)
        state.form.roleTicks = { user: msg.user, roles: new Set(msg.current) };
      tick(state.form.roleTicks.roles, msg.role, msg.on);
      return "panels";
    }
    case "counts_asked":
      if (state.counts.fetching) state.counts.again = true;
      else state.counts.fetching = true;
      return "nothing";
    case "counts_answered": {
      const before = JSON.stringify(state.counts.channels);
      state.counts.channels = msg.channels;
      state.counts.failed = false;
      // A screen that did not change is not drawn again (an open picker stays open).
      return state.screen === "agent" && JSON.stringify(msg.channels) !== before ? "panels" : "nothing";
    }
    case "counts_failed":
      state.counts.failed = true;
      return "nothing";
    case "counts_done":
      state.counts.fetching = false;
      state.counts.again = false;
      return "nothing";
  }
}

/** Puts `key` in `set` or takes it out. */
function tick(set: Set<string>, key: string, on: boolean): void {
  if (on) set.add(key);
  else set.delete(key);
}

/** Changes the open picker (none open: nothing); the picker draws its own results. */
function picker(state: UiState, change: (picker: Picker) => void): Drawing {
  if (state.logAgent) change(state.logAgent);
  return "nothing";
}

/** Applies `msg` to the page's state and asks the scheduler for what it made stale. */
export function send(msg: Msg): void {
  const drawing = update(ui, msg);
  if (drawing === "nothing") return;
  if (drawing === "panels") redraw.panels();
  else if (drawing === "all") redraw.all();
  else if (drawing === "everything") redraw.everything();
  else redraw.cards(drawing.cards);
}
