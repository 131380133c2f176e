// The dashboard's start and its frame: who is signed in (a session, or the demo's "act
// as"; without either, the sign-in page), the mirrored tenant (as much of it as this user
// may see) and its live feed, the screens their roles give (the agent's own, the
// supervisor's, the admin's configuration, or the page of a user without a role), tabs,
// toolbar, side panels and language, and when what is redrawn. The screens and panels are
// files of their own.

import init, { Tenant, type ChannelKind, type Event, type State } from "agentstate";
import { Api } from "./api.js";
import { closeMenu } from "./actions-menu.js";
import { adminScreen, askSsoSettings } from "./admin.js";
import { agentScreen } from "./agent.js";
import { refreshCounts, showCounts } from "./channel-counts.js";
import { ctx, rolesOf, say, screensOf, toast, ui, type Screen, type SortBy, redraw } from "./context.js";
import { byId, h, replaceKeepingFocus } from "./dom.js";
import { historyPanel, historyTouched } from "./history.js";
import type { Word } from "./i18n.js";
import { lingeringPanel } from "./lingering.js";
import { logAgentOpen, renderLogAgent, renderLogAgentResults } from "./log-agent.js";
import { Mirror, SIGHT } from "./mirror.js";
import { noRoleScreen } from "./no-role.js";
import { drawChannels, forgetCards, tick } from "./cards.js";
import { shownOn } from "./roster.js";
import { settingsPanel } from "./settings.js";
import { timelinePanel } from "./timeline.js";
import { send } from "./update.js";
import type { components } from "./generated/http.js";

/** What `/demo/tokens` serves, as the API declares it. */
type DemoTokens = components["schemas"]["DemoTokens"];
type DemoToken = components["schemas"]["DemoToken"];

/** The cards an event may change: its channel, and every card its user is shown on or assigned to. */
function touched(events: Event[]): Set<string> | undefined {
  const cards = new Set<string>();
  const users = ctx.mirror.config().users;
  for (const event of events) {
    if (!("user" in event)) return undefined;
    if ("channel" in event) cards.add(event.channel);
    for (const c of shownOn.get(event.user) ?? []) cards.add(c);
    for (const c of Object.keys(users[event.user]?.assignments ?? {})) cards.add(c);
  }
  return cards;
}

/** The page's one drawing, from the one state: the chrome when asked, then the screen shown. */
function draw(cards: Set<string> | undefined, withChrome: boolean): void {
  if (withChrome) chrome();
  document.documentElement.lang = ui.lang;
  if (ui.screen === "agent") replaceKeepingFocus(byId("agent-screen"), agentScreen());
  else if (ui.screen === "admin") replaceKeepingFocus(byId("admin-screen"), adminScreen());
  else if (ui.screen === "no-role") replaceKeepingFocus(byId("no-role-screen"), noRoleScreen());
  else drawChannels(byId("channels"), cards);
  const panels = ui.screen === "supervisor" ? [settingsPanel(), lingeringPanel(), timelinePanel(), historyPanel()] : [];
  byId("side").replaceChildren(...panels.filter((p): p is HTMLElement => p !== null));
  if (logAgentOpen()) renderLogAgentResults();
  // Drawing waits for the next frame; tests and embedders read here which actor and tab
  // are shown (a tab button is marked active at once, its cards a frame later).
  document.body.dataset.actor = ui.actor;
  document.body.dataset.drawnTab = ui.tab;
}

const SCREEN_WORDS: Record<Screen, Word> = {
  agent: "myDashboard",
  supervisor: "supervisorScreen",
  admin: "configuration",
  "no-role": "noRoleTitle",
};

/**
 * The screens this user's roles give (`screensOf`), to switch between; none for a user
 * without a role. Only the screen shown holds anything of the tenant: the others are
 * emptied, so that after "act as" nothing of another user's view stays in the page.
 */
function screens(): void {
  const choices = screensOf(rolesOf(ui.actor));
  byId("screens").replaceChildren(
    ...(choices.length > 1 ? choices : []).map((screen) =>
      h(
        "button",
        {
          class: ui.screen === screen ? "tab active" : "tab",
          "data-screen": screen,
          "aria-pressed": ui.screen === screen ? "true" : "false",
          onclick: () => {
            send({ kind: "screen_chosen", screen });
            if (screen === "admin") askSsoSettings();
            refreshCounts();
          },
        },
        say(SCREEN_WORDS[screen]),
      ),
    ),
  );
  for (const screen of ["supervisor", "agent", "admin", "no-role"] as const)
    byId(`${screen}-screen`).hidden = ui.screen !== screen;
  for (const hidden of ["agent", "admin", "no-role"] as const)
    if (ui.screen !== hidden) byId(`${hidden}-screen`).replaceChildren();
  if (ui.screen !== "supervisor") byId("channels").replaceChildren();
  byId("tabs").hidden = ui.screen !== "supervisor";
  byId("side").hidden = ui.screen !== "supervisor";
}

/** Everything that is not a card or panel: who is signed in, title, screens, tabs, the toolbar. */
function chrome(): void {
  header.who();
  screens();
  byId("title").textContent = `agentstate — ${say(ui.screen === "supervisor" ? "title" : SCREEN_WORDS[ui.screen])}`;
  document.title = byId("title").textContent;
  const words: Record<ChannelKind, Word> = { queue: "queues", chat: "chats", campaign: "campaigns" };
  byId("tabs").replaceChildren(
    ...ctx.vocabulary.channel_kinds.map((kind) =>
      h(
        "button",
        {
          class: ui.tab === kind ? "tab active" : "tab",
          "data-tab": kind,
          "aria-pressed": ui.tab === kind ? "true" : "false",
          onclick: () => send({ kind: "tab_chosen", tab: kind }),
        },
        say(words[kind]),
      ),
    ),
  );
  toolbar();
}

function toolbar(): void {
  const { filter } = ui;
  byId("toolbar").replaceChildren(
    h("input", {
      type: "search",
      id: "filter-name",
      placeholder: say("filterName"),
      "aria-label": say("filterName"),
      value: filter.text,
      oninput: (e: globalThis.Event) => send({ kind: "filter_changed", text: (e.target as HTMLInputElement).value }),
    }),
    h(
      "select",
      {
        id: "filter-state",
        "aria-label": say("stateFilter"),
        onchange: (e: globalThis.Event) =>
          send({ kind: "filter_changed", state: (e.target as HTMLSelectElement).value as typeof filter.state }),
      },
      h("option", { value: "", selected: filter.state === "" }, say("allStates")),
      ctx.vocabulary.agent_states.map((state) =>
        h("option", { value: state, selected: filter.state === state }, say(`state_${state}` as Word)),
      ),
    ),
    h(
      "label",
      {},
      `${say("sortBy")} `,
      h(
        "select",
        {
          id: "sort-by",
          onchange: (e: globalThis.Event) =>
            send({ kind: "filter_changed", sort: (e.target as HTMLSelectElement).value as SortBy }),
        },
        (["name", "state", "duration"] as const).map((by) =>
          h("option", { value: by, selected: filter.sort === by }, say(`sort_${by}`)),
        ),
      ),
    ),
  );
}

function languagePicker(): void {
  const lang = byId<HTMLSelectElement>("lang");
  lang.value = ui.lang;
  lang.onchange = () => {
    send({ kind: "lang_chosen", lang: lang.value === "de" ? "de" : "en" });
    localStorage.setItem("lang", ui.lang);
    if (logAgentOpen()) renderLogAgent();
  };
}

/** The header's right side: who is signed in (and "Sign out"), or the demo's "act as" —
 * which of the two, set once at start. */
const header = { who: (): void => {} };

function signedIn(me: { tenant: string; actor: string }): void {
  header.who = () => {
    const name = ctx.mirror.config().users[me.actor]?.name ?? me.actor;
    byId("who").replaceChildren(
      h(
        "span",
        { id: "signed-in-as", "data-tenant": me.tenant, "data-actor": me.actor },
        `${say("signedInAs")} ${name} · ${me.tenant}`,
      ),
      h(
        "button",
        { id: "sign-out", onclick: () => void Api.signOut().then(() => location.replace("/signin")) },
        say("signOutSession"),
      ),
    );
  };
}

/** The demo's "act as": another user is another view of the tenant, opened anew. */
function demo(tokens: DemoToken[], actAs: (actor: string, token: string) => void): void {
  header.who = () => {
    const select = h(
      "select",
      { id: "act-as", "aria-labelledby": "act-as-label" },
      tokens.map((tk) =>
        h(
          "option",
          { value: tk.actor, selected: tk.actor === ui.actor },
          `${tk.name} (${tk.roles.join(", ") || tk.actor})`,
        ),
      ),
    );
    // Also the user shown now: chosen back while another user's view is loading, it is
    // the view to open.
    select.onchange = () => {
      const chosen = tokens.find((tk) => tk.actor === select.value);
      if (chosen) actAs(chosen.actor, chosen.token);
    };
    byId("who").replaceChildren(
      h("label", {}, h("span", { id: "act-as-label" }, say("actAs")), " ", select),
      h("a", { href: "/signin", class: "signin-link" }, say("signInTitle")),
    );
  };
}

/**
 * Whether events change more than some cards: a person or channel came into or went out
 * of sight (the projected feed's sight events), or the user's own roles changed (and with
 * them their screens and what they may see).
 */
function reshapes(events: Event[]): boolean {
  return events.some((e) => SIGHT.has(e.type) || (e.type === "roles_set" && e.user === ui.actor));
}

function onFeed(batch: [number, Event][]): void {
  let events: Event[];
  try {
    events = ctx.mirror.apply(batch);
  } catch (error) {
    // An event the module cannot fold (a server newer than this page): the mirror would
    // fall behind, so it starts over from a snapshot.
    console.warn("the feed brought what the mirror cannot fold; reloading", error);
    open(ui.actor).catch((e: unknown) => toast(String(e), "error"));
    return;
  }
  if (!events.length) return;
  if (reshapes(events)) {
    send({ kind: "roles_seen", roles: rolesOf(ui.actor) });
  } else {
    redraw.fromFeed(touched(events));
  }
  historyTouched(events);
}

/** The feed's `snapshot` message: the mirror starts anew from what the caller sees. */
function onSnapshot(seq: number, state: State): void {
  ctx.swapMirror(Mirror.of(seq, state))?.free();
  forgetCards();
  send({ kind: "roles_seen", roles: rolesOf(ui.actor) });
  refreshCounts();
}

function onLive(live: boolean): void {
  const status = byId("live");
  status.textContent = live ? say("live") : say("offline");
  status.className = live ? "live on" : "live off";
}

/**
 * Opens the tenant as `actor` may see it (their snapshot, then their feed) on the screen
 * their roles give.
 */
async function open(actor: string, api: Api = ctx.api): Promise<void> {
  const asked = ++ctx.asked;
  ctx.unfollow();
  const mirror = await Mirror.load(api);
  // A later "act as" asked for another view meanwhile: that one opens, not this one.
  if (asked !== ctx.asked) {
    mirror.free();
    return;
  }
  // A view opened meanwhile gives way to this one, and its user's token is now the one used.
  ctx.unfollow();
  ctx.api = api;
  ctx.swapMirror(mirror)?.free();
  send({ kind: "opened", actor, roles: rolesOf(actor) });
  forgetCards();
  ctx.unfollow = ctx.api.follow(mirror.seq, onFeed, onLive, onSnapshot, showCounts);
  redraw.now();
  refreshCounts();
}

async function main(): Promise<void> {
  await init();
  ctx.vocabulary = Tenant.vocabulary();
  redraw.with(draw);
  const lang = () => ui.lang;
  const me = await Api.session();
  let actor: string;
  if (me) {
    actor = me.actor;
    ctx.api = new Api(me.tenant, { kind: "session" }, lang);
    signedIn(me);
  } else {
    const response = await fetch("/demo/tokens");
    if (!response.ok) {
      location.replace("/signin");
      return;
    }
    const published = (await response.json()) as DemoTokens;
    const tokens = published.tokens.filter((tk) => tk.actor !== "system");
    const start = tokens.find((tk) => tk.actor === "sam") ?? tokens[0];
    if (!start) throw new Error("the demo has no users");
    actor = start.actor;
    ctx.api = new Api(published.tenant, { kind: "bearer", token: start.token }, lang);
    demo(tokens, (chosen, token) => {
      open(chosen, ctx.api.as(token)).catch((error: unknown) => toast(String(error), "error"));
    });
  }
  languagePicker();
  await open(actor);
  performance.mark("first-roster");
  document.body.dataset.ready = "true";
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && ui.openMenu) closeMenu();
  });
  // Durations and wrap-up countdowns advance between events; an ended wrap-up redraws.
  window.setInterval(() => {
    if (tick(byId(ui.screen === "agent" ? "agent-screen" : "channels"))) redraw.all();
  }, 1000);
}

main().catch((error: unknown) => {
  byId("toast").replaceChildren(
    h("div", { class: "toast error", role: "alert" }, `The dashboard could not start: ${String(error)}`),
  );
});
