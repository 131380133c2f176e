// What every panel shares: the session (the API, the mirrored tenant, the module's
// vocabulary), the one UI state (the user's choices and the panels they opened), how to
// ask for a redraw, and how to send a command and say how it went.

import {
  Tenant,
  type Action,
  type ActivityReport,
  type AssignAs,
  type UserMatch,
  type AgentState,
  type ChannelKind,
  type Plan,
  type Event,
  type Rejection,
  type Role,
  type Verdict,
  type Vocabulary,
} from "agentstate";
import type { Api, ChannelCounts, SsoSettings } from "./api.js";
import { byId, h } from "./dom.js";
import { t, type Lang, type Word } from "./i18n.js";
import type { Mirror } from "./mirror.js";
import { sentences, type Names } from "./sentences.js";

export type SortBy = "name" | "state" | "duration";
/** The screens: the agent's own, the supervisor's, the admin's configuration, and the page of a user without a contact-center role. */
export type Screen = "supervisor" | "agent" | "admin" | "no-role";

/** The agent's channels as counts per state, as last fetched from the server. */
export interface CountsState {
  channels: ChannelCounts[] | null;
  /** The last fetch failed (the channels keep their last counts). */
  failed: boolean;
  /** A fetch is under way; `again`: asked for once more meanwhile. */
  fetching: boolean;
  again: boolean;
}

/** A match as both the server and the module give it (the server's `active_device` may be null). */
export type Match = Pick<UserMatch, "user" | "name" | "roles" | "devices">;

/** The "+ Log agent" picker, while open: its channel, what is asked and what was found. */
export interface Picker {
  channel: string;
  text: string;
  roles: Role[];
  expanded: Set<string>;
  /** The server's matches for `text` and `roles`; null until it answered. */
  matches: Match[] | null;
  /** The search whose answer is wanted (typing asks many times). */
  asked: number;
}

/** What the admin is typing and ticking on the Configuration screen. */
export interface AdminForm {
  /** The assignments' user search, the users and channels ticked, and as what they are assigned. */
  search: string;
  users: Set<string>;
  channels: Set<string>;
  as: AssignAs;
  /** A new user: id, name, roles. */
  userId: string;
  userName: string;
  userRoles: Set<string>;
  /** A new channel: id, name, kind, wrap-up. */
  channelId: string;
  channelName: string;
  channelKind: ChannelKind;
  wrapUp: number;
  /** A pause reason to add. */
  newReason: string;
  /** The plan picked, before it is set ("": the tenant's). */
  plan: Plan | "";
  /** The roles ticked for the one user picked, once the admin ticked one. */
  roleTicks: { user: string; roles: Set<string> } | null;
}

export function noForm(): AdminForm {
  return {
    search: "",
    users: new Set(),
    channels: new Set(),
    as: "agent",
    userId: "",
    userName: "",
    userRoles: new Set(["agent"]),
    channelId: "",
    channelName: "",
    channelKind: "queue",
    wrapUp: 30,
    newReason: "",
    plan: "",
    roleTicks: null,
  };
}

/** Everything the screen shows that is not the tenant: the user's choices and what was fetched for them. */
export interface UiState {
  /** Which view of the tenant is open (one more for every "act as"): a server's answer to an earlier view is dropped. */
  view: number;
  lang: Lang;
  tab: ChannelKind;
  actor: string;
  screen: Screen;
  openMenu: string | null;
  filter: { text: string; state: AgentState | ""; sort: SortBy };
  counts: CountsState;
  /** The pause reason the agent chose on their own screen. */
  pauseReason: string;
  /** The history panel, while open: whose, the pages read, where the next one begins. */
  history: { user: string; events: Event[]; nextBefore?: number } | null;
  /** The day at a glance, while open: whose, and the server's report. */
  timeline: { user: string; report: ActivityReport } | null;
  /** The "+ Log agent" picker, while open. */
  logAgent: Picker | null;
  /** The channels the agent ticked for "log in to selected". */
  picked: Set<string>;
  /** The tenant's single sign-on (Configuration), once asked for: `null` until then. */
  sso: SsoSettings | "loading" | "unreadable" | null;
  /** The admin's Configuration form. */
  form: AdminForm;
}

export function noCounts(): CountsState {
  return { channels: null, failed: false, fetching: false, again: false };
}

export const ui: UiState = {
  view: 0,
  lang: localStorage.getItem("lang") === "de" ? "de" : "en",
  tab: "queue",
  actor: "",
  screen: "supervisor",
  openMenu: null,
  filter: { text: "", state: "", sort: "name" },
  counts: noCounts(),
  pauseReason: "",
  history: null,
  timeline: null,
  logAgent: null,
  picked: new Set(),
  sso: null,
  form: noForm(),
};

/** A part of the session read before it was set up: a defect of the page, said plainly. */
function notYet(part: string): never {
  throw new Error(`the dashboard used its ${part} before it was set up`);
}

/**
 * The signed-in session, set up in order: the module's vocabulary once it is loaded, the
 * API once the user is known, the mirror once the tenant is open (and anew for every
 * "act as"). A part read before it is set up is an error that says so, not `undefined`.
 */
class Session {
  #api?: Api;
  #mirror?: Mirror;
  #vocabulary?: Vocabulary;
  /** Stops the mirror's live feed. */
  unfollow: () => void = () => {};
  /** How many views were asked for: a view whose tenant loads after a later one was asked for gives way to it. */
  asked = 0;

  get api(): Api {
    return this.#api ?? notYet("API");
  }
  set api(api: Api) {
    this.#api = api;
  }
  get mirror(): Mirror {
    return this.#mirror ?? notYet("mirrored tenant");
  }
  /** Opens `mirror` in place of the one open now, which is given back (to be freed). */
  swapMirror(mirror: Mirror): Mirror | undefined {
    const old = this.#mirror;
    this.#mirror = mirror;
    return old;
  }
  get vocabulary(): Vocabulary {
    return this.#vocabulary ?? notYet("vocabulary");
  }
  set vocabulary(vocabulary: Vocabulary) {
    this.#vocabulary = vocabulary;
  }
}

export const ctx = new Session();

/**
 * What the feed changed is drawn at most this often: a busy contact center brings
 * hundreds of events a second, and a supervisor reads the board, not each frame.
 */
const FEED_REDRAW_MS = 250;

/**
 * The page's one scheduler: what to draw, and when. A message's drawing (`update.ts`) is
 * drawn on the next frame (several asks, one drawing); what the feed changed waits up to
 * `FEED_REDRAW_MS` and is then drawn like an ask. `undefined` for the cards means all of
 * them; `chrome` is the header, screens, tabs and toolbar.
 */
class Scheduler {
  #draw: (cards: Set<string> | undefined, chrome: boolean) => void = () => {};
  /** Cards to draw on the next frame, whether the chrome is too, and whether a frame is asked for. */
  #frame: Set<string> | undefined = new Set();
  #chrome = false;
  #frameAsked = false;
  /** Cards the feed changed since the last feed drawing, and its timer. */
  #feed: Set<string> | undefined = new Set();
  #feedTimer: number | undefined;

  /** Everything, the chrome too. */
  everything(): void {
    this.#chrome = true;
    this.#ask(undefined);
  }
  /** Every card, the screen and the side panels. */
  all(): void {
    this.#ask(undefined);
  }
  /** The screen and the side panels, with the channel cards as they are drawn. */
  panels(): void {
    this.#ask([]);
  }
  /** Those, and some channels' cards. */
  cards(channels: Iterable<string>): void {
    this.#ask(channels);
  }
  /** What the feed changed: these cards (or all), drawn within `FEED_REDRAW_MS`. */
  fromFeed(channels: Set<string> | undefined): void {
    this.#feed = merged(this.#feed, channels);
    if (this.#feedTimer !== undefined) return;
    this.#feedTimer = window.setTimeout(() => {
      this.#feedTimer = undefined;
      const cards = this.#feed;
      this.#feed = new Set();
      this.#ask(cards);
    }, FEED_REDRAW_MS);
  }
  /** Everything, at once rather than on the next frame (a view just opened). */
  now(): void {
    this.#chrome = false;
    this.#frame = new Set();
    this.#draw(undefined, true);
  }
  /** What draws: the page's frame, given the cards to redraw (`undefined`: all of them) and whether the chrome too. */
  with(draw: (cards: Set<string> | undefined, chrome: boolean) => void): void {
    this.#draw = draw;
  }

  #ask(channels: Iterable<string> | undefined): void {
    this.#frame = merged(this.#frame, channels);
    if (this.#frameAsked) return;
    this.#frameAsked = true;
    requestAnimationFrame(() => {
      this.#frameAsked = false;
      const [cards, chrome] = [this.#frame, this.#chrome];
      this.#frame = new Set();
      this.#chrome = false;
      this.#draw(cards, chrome);
    });
  }
}

/** `into` with `channels` added (`undefined`, all cards, absorbs anything). */
function merged(into: Set<string> | undefined, channels: Iterable<string> | undefined): Set<string> | undefined {
  if (into === undefined || channels === undefined) return undefined;
  for (const c of channels) into.add(c);
  return into;
}

export const redraw = new Scheduler();

export function say(word: Word): string {
  return t(ui.lang, word);
}

export function reason(rejection: Rejection | undefined): string {
  return rejection ? Tenant.message(rejection, ui.lang) : "";
}

export function toast(text: string, kind: "ok" | "error" | "warn"): void {
  const box = byId("toast");
  box.replaceChildren(h("div", { class: `toast ${kind}`, role: "status", "data-kind": kind }, text));
  window.setTimeout(() => box.firstChild?.remove(), 6000);
}

/** Users and channels by name, for sentences. */
export function names(): Names {
  const config = ctx.mirror.config();
  return { user: (id) => config.users[id]?.name ?? id, channel: (id) => config.channels[id]?.name ?? id };
}

/** What the module says `action` would give now, as the acting user. */
export function verdictOf(action: Action): Verdict {
  const outcome = ctx.mirror.tenant.decide({ ...action, actor: ui.actor, at: ctx.mirror.now() });
  return outcome.outcome === "accepted" ? { allowed: true } : { allowed: false, rejection: outcome.rejection };
}

/** Sends a command as the acting user and says what happened, in a sentence. */
export async function act(action: Action, local: Verdict | undefined): Promise<void> {
  await actAll([action], local ? [local] : undefined);
}

/** Sends commands at once (one request, decided in turn) and says what happened. */
export async function actAll(actions: Action[], local?: Verdict[]): Promise<Event[]> {
  const posted = await ctx.api.commands(actions);
  const error = posted.find((p) => p.error)?.error;
  if (error) {
    toast(error.message.endsWith(".") ? error.message : `${error.message}.`, "error");
    return [];
  }
  const events = posted.flatMap((p) => p.events ?? []);
  const rejected = posted.filter((p) => p.outcome !== "accepted").map((p) => p.rejection?.message ?? "");
  const differs = local?.some((v, i) => v.allowed !== (posted[i]?.outcome === "accepted"));
  if (differs) {
    toast(
      `${say("serverDiffers")}: ${[...rejected, sentences(events, names(), ui.lang)].filter(Boolean).join(" ")}`,
      "warn",
    );
  } else if (events.length) {
    toast(
      [sentences(events, names(), ui.lang), ...rejected].filter(Boolean).join(" "),
      rejected.length ? "warn" : "ok",
    );
  } else {
    toast(rejected.join(" "), "error");
  }
  return events;
}

/** A button that sends `action` when the module allows it, and says why not when not. */
export function actionButton(
  label: string,
  verdict: Verdict | undefined,
  action: Action,
  name: string,
  after?: () => void,
): HTMLButtonElement {
  const allowed = verdict?.allowed ?? false;
  return h(
    "button",
    {
      class: "action",
      role: "menuitem",
      "data-action": name,
      disabled: !allowed,
      "aria-disabled": !allowed ? "true" : undefined,
      title: allowed ? label : reason(verdict?.rejection as Rejection | undefined),
      onclick: () => {
        after?.();
        void act(action, verdict);
      },
    },
    label,
  );
}

/** A user's contact-center roles, as the mirrored tenant says (none for a user it does not hold). */
export function rolesOf(user: string): Role[] {
  return ctx.mirror.config().users[user]?.roles ?? [];
}

/**
 * The screens a user's roles give, where they land first: an agent's own dashboard (also
 * offered to supervisors and admins, to be told why there is none when they are no
 * agent), the supervisor's for supervisors and admins, the configuration for admins, and
 * for a user without a contact-center role only the page that says so.
 */
export function screensOf(roles: readonly Role[]): Screen[] {
  const supervises = roles.includes("supervisor") || roles.includes("admin");
  if (!supervises && !roles.includes("agent")) return ["no-role"];
  const screens: Screen[] = ["agent"];
  if (supervises) screens.push("supervisor");
  if (roles.includes("admin")) screens.push("admin");
  return screens;
}

/** Where a user with these roles lands: the supervisor's screen when they supervise, else their first. */
export function landing(roles: readonly Role[]): Screen {
  const screens = screensOf(roles);
  return screens.includes("supervisor") ? "supervisor" : (screens[0] ?? "no-role");
}

/** The name of a user of the tenant. */
export function nameOf(user: string): string {
  return ctx.mirror.config().users[user]?.name ?? user;
}
