// The dashboard's start and its frame: who is signed in (a session, or the demo's "act
// as"; without either, the sign-in page), the mirrored tenant and its live feed, the
// screens (the agent's own, the supervisor's, the admin's configuration), tabs, toolbar,
// side panels and language, and when what is redrawn. The screens and panels are files
// of their own.

import init, { Tenant, type ChannelKind, type Event } from "agentstate";
import { Api } from "./api.js";
import { closeMenu } from "./actions-menu.js";
import { adminScreen, mayConfigure } from "./admin.js";
import { agentScreen } from "./agent.js";
import { ctx, say, ui, verdictOf, type Screen, type SortBy } from "./context.js";
import { byId, h, replaceKeepingFocus } from "./dom.js";
import { historyPanel, historyTouched } from "./history.js";
import type { Word } from "./i18n.js";
import { lingeringPanel } from "./lingering.js";
import { logAgentOpen, renderLogAgent, renderLogAgentResults } from "./log-agent.js";
import { Mirror } from "./mirror.js";
import { drawChannels, shownOn, tick } from "./roster.js";
import { settingsPanel } from "./settings.js";
import { timelinePanel } from "./timeline.js";

interface DemoToken {
  actor: string;
  name: string;
  roles: string[];
  token: string;
}

/** Cards to redraw on the next frame; `undefined` means every card. */
let dirty: Set<string> | undefined = new Set();
let scheduled = false;

function render(channels?: Iterable<string>): void {
  if (channels === undefined) dirty = undefined;
  else if (dirty) for (const c of channels) dirty.add(c);
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    const cards = dirty;
    dirty = new Set();
    draw(cards);
  });
}

/**
 * What the feed changed is drawn at most this often: a busy contact center brings
 * hundreds of events a second, and a supervisor reads the board, not each frame.
 */
const FEED_REDRAW_MS = 250;
let feedDirty: Set<string> | undefined = new Set();
let feedTimer: number | undefined;

function renderFromFeed(channels: Set<string> | undefined): void {
  if (channels === undefined) feedDirty = undefined;
  else if (feedDirty) for (const c of channels) feedDirty.add(c);
  if (feedTimer !== undefined) return;
  feedTimer = window.setTimeout(() => {
    feedTimer = undefined;
    const cards = feedDirty;
    feedDirty = new Set();
    render(cards);
  }, FEED_REDRAW_MS);
}

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

function draw(cards: Set<string> | undefined): void {
  document.documentElement.lang = ui.lang;
  if (ui.screen === "agent") replaceKeepingFocus(byId("agent-screen"), agentScreen());
  else if (ui.screen === "admin") replaceKeepingFocus(byId("admin-screen"), adminScreen());
  else drawChannels(byId("channels"), cards, (channel) => render([channel]));
  byId("side").replaceChildren(...[settingsPanel(), lingeringPanel(), timelinePanel(), historyPanel()].filter((p): p is HTMLElement => p !== null));
  if (logAgentOpen()) renderLogAgentResults();
  // Drawing waits for the next frame; tests and embedders read here which actor is shown.
  document.body.dataset.actor = ui.actor;
}

/** The screens this user may switch between: the agent's own for users with the agent role (and for anyone who asks, to be told why not), the supervisor's, the configuration for admins. */
function screens(): void {
  const choices: [Screen, Word][] = [["agent", "myDashboard"], ["supervisor", "supervisorScreen"]];
  if (mayConfigure()) choices.push(["admin", "configuration"]);
  byId("screens").replaceChildren(
    ...choices.map(([screen, word]) =>
      h("button", { class: ui.screen === screen ? "tab active" : "tab", "data-screen": screen, "aria-pressed": ui.screen === screen ? "true" : "false", onclick: () => { ui.screen = screen; ui.openMenu = null; drawAll(); } }, say(word)),
    ),
  );
  for (const screen of ["supervisor", "agent", "admin"] as const) byId(`${screen}-screen`).hidden = ui.screen !== screen;
  byId("tabs").hidden = ui.screen !== "supervisor";
  byId("side").hidden = ui.screen !== "supervisor";
}

/** Everything that is not a card or panel: title, screens, tabs, the toolbar. */
function chrome(): void {
  screens();
  byId("title").textContent = `agentstate — ${say(ui.screen === "agent" ? "myDashboard" : ui.screen === "admin" ? "configuration" : "title")}`;
  const words: Record<ChannelKind, Word> = { queue: "queues", chat: "chats", campaign: "campaigns" };
  byId("tabs").replaceChildren(
    ...ctx.vocabulary.channel_kinds.map((kind) =>
      h(
        "button",
        {
          class: ui.tab === kind ? "tab active" : "tab",
          "data-tab": kind,
          "aria-pressed": ui.tab === kind ? "true" : "false",
          onclick: () => {
            ui.tab = kind;
            ui.openMenu = null;
            drawAll();
          },
        },
        say(words[kind]),
      ),
    ),
  );
  toolbar();
}

function drawAll(): void {
  chrome();
  render();
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
      oninput: (e: globalThis.Event) => {
        filter.text = (e.target as HTMLInputElement).value;
        render();
      },
    }),
    h(
      "select",
      { id: "filter-state", "aria-label": say("stateFilter"), onchange: (e: globalThis.Event) => { filter.state = (e.target as HTMLSelectElement).value as typeof filter.state; render(); } },
      h("option", { value: "", selected: filter.state === "" }, say("allStates")),
      ctx.vocabulary.agent_states.map((state) => h("option", { value: state, selected: filter.state === state }, say(`state_${state}` as Word))),
    ),
    h(
      "label",
      {},
      `${say("sortBy")} `,
      h(
        "select",
        { id: "sort-by", onchange: (e: globalThis.Event) => { filter.sort = (e.target as HTMLSelectElement).value as SortBy; render(); } },
        (["name", "state", "duration"] as const).map((by) => h("option", { value: by, selected: filter.sort === by }, say(`sort_${by}`))),
      ),
    ),
  );
}

function languagePicker(): void {
  const lang = byId<HTMLSelectElement>("lang");
  lang.value = ui.lang;
  lang.onchange = () => {
    ui.lang = lang.value === "de" ? "de" : "en";
    localStorage.setItem("lang", ui.lang);
    if (logAgentOpen()) renderLogAgent();
    drawAll();
    who();
  };
}

/** The header's right side: who is signed in (and "Sign out"), or the demo's "act as". */
let who = (): void => {};

function signedIn(me: { tenant: string; actor: string }): void {
  who = () => {
    const name = ctx.mirror.config().users[me.actor]?.name ?? me.actor;
    byId("who").replaceChildren(
      h("span", { id: "signed-in-as", "data-tenant": me.tenant, "data-actor": me.actor }, `${say("signedInAs")} ${name} · ${me.tenant}`),
      h("button", { id: "sign-out", onclick: () => void Api.signOut().then(() => location.replace("/signin")) }, say("signOutSession")),
    );
  };
}

function demo(tokens: DemoToken[]): void {
  who = () => {
    const select = h(
      "select",
      { id: "act-as", "aria-labelledby": "act-as-label" },
      tokens.map((tk) => h("option", { value: tk.actor, selected: tk.actor === ui.actor }, `${tk.name} (${tk.roles.join(", ") || tk.actor})`)),
    );
    select.onchange = () => {
      const chosen = tokens.find((tk) => tk.actor === select.value);
      if (!chosen) return;
      ui.actor = chosen.actor;
      ui.openMenu = null;
      ctx.api.useToken(chosen.token);
      drawAll();
    };
    byId("who").replaceChildren(h("label", {}, h("span", { id: "act-as-label" }, say("actAs")), " ", select), h("a", { href: "/signin", class: "signin-link" }, say("signInTitle")));
  };
}

/**
 * Where a user lands: their own dashboard when they have one and may not act on others
 * (an agent), else the supervisor's screen. Both answers come from the module's verdicts.
 */
function firstScreen(): Screen {
  const self = verdictOf({ type: "sign_in_assigned", user: ui.actor });
  const hasOwn = self.allowed || self.rejection?.code !== "no_agent_dashboard";
  const others = Object.keys(ctx.mirror.config().users).find((u) => u !== ui.actor);
  const supervises = others !== undefined && verdictOf({ type: "sign_out_all", user: others }).rejection?.code !== "not_authorized";
  return hasOwn && !supervises ? "agent" : "supervisor";
}

async function main(): Promise<void> {
  await init();
  ctx.vocabulary = Tenant.vocabulary();
  ctx.render = render;
  const lang = () => ui.lang;
  const me = await Api.session();
  if (me) {
    ui.actor = me.actor;
    ctx.api = new Api(me.tenant, { kind: "session" }, lang);
    signedIn(me);
  } else {
    const response = await fetch("/demo/tokens");
    if (!response.ok) {
      location.replace("/signin");
      return;
    }
    const published = (await response.json()) as { tenant: string; tokens: DemoToken[] };
    const tokens = published.tokens.filter((tk) => tk.actor !== "system");
    const start = tokens.find((tk) => tk.actor === "sam") ?? tokens[0];
    if (!start) throw new Error("the demo has no users");
    ui.actor = start.actor;
    ctx.api = new Api(published.tenant, { kind: "bearer", token: start.token }, lang);
    demo(tokens);
  }
  ctx.mirror = await Mirror.load(ctx.api);
  ui.screen = firstScreen();
  languagePicker();
  who();
  ctx.api.follow(
    ctx.mirror.seq,
    (batch) => {
      const events = ctx.mirror.apply(batch);
      if (!events.length) return;
      renderFromFeed(touched(events));
      historyTouched(events);
    },
    (live) => {
      const status = byId("live");
      status.textContent = live ? say("live") : say("offline");
      status.className = live ? "live on" : "live off";
    },
  );
  chrome();
  draw(undefined);
  performance.mark("first-roster");
  document.body.dataset.ready = "true";
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && ui.openMenu) closeMenu();
  });
  // Durations and wrap-up countdowns advance between events; an ended wrap-up redraws.
  window.setInterval(() => {
    if (tick(byId(ui.screen === "agent" ? "agent-screen" : "channels"))) render();
  }, 1000);
}

main().catch((error: unknown) => {
  byId("toast").replaceChildren(h("div", { class: "toast error", role: "alert" }, `The dashboard could not start: ${String(error)}`));
});
