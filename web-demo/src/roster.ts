// One card per channel: its counts per state in the header, and a row per agent with
// their state, how long it has lasted (ticking), their status badges, device and Actions.
// Rows are the module's roster and channelStates views, filtered and sorted as the
// toolbar says. A long roster renders only the rows in its scroll window.

import type { AgentNow, ChannelStates, RosterEntry } from "agentstate";
import { actionsMenu } from "./actions-menu.js";
import { ctx, nameOf, say, ui } from "./context.js";
import { clockTime, countdown, elapsed, h } from "./dom.js";
import type { Word } from "./i18n.js";
import { openLogAgent } from "./log-agent.js";

export interface Row {
  entry: RosterEntry;
  now: AgentNow | undefined;
}

/** Rosters longer than this scroll in a window of fixed height, rendering what shows. */
const WINDOWED_FROM = 40;
const ROW_HEIGHT = 56;
const WINDOW_ROWS = 12;
const OVERSCAN = 6;

interface Card {
  element: HTMLElement;
  rows: Row[];
}

const cards = new Map<string, Card>();

/**
 * Cards near the viewport. Only those are drawn; one further away is a placeholder until
 * it comes near (a tab of a large contact center holds dozens of channels, and the feed
 * changes some every moment).
 */
const near = new Set<string>();
/** Cards that changed while away, drawn when they come near. */
const stale = new Set<string>();
let onNear: (channel: string) => void = () => {};
const watcher = new IntersectionObserver(
  (entries) => {
    for (const entry of entries) {
      const channel = (entry.target as HTMLElement).dataset.channel;
      if (!channel) continue;
      if (!entry.isIntersecting) {
        near.delete(channel);
      } else if (!near.has(channel)) {
        near.add(channel);
        if (stale.has(channel)) onNear(channel);
      }
    }
  },
  { rootMargin: "800px 0px" },
);

/** Placeholders of about a card's height, until drawn. */
function placeholder(channel: string): Card {
  const info = ctx.mirror.config().channels[channel];
  const element = h(
    "section",
    { class: "card pending", "data-channel": channel, "aria-labelledby": `channel-${channel}`, "aria-busy": "true" },
    h("header", {}, h("h2", { id: `channel-${channel}` }, info?.name ?? channel)),
  );
  return { element, rows: [] };
}

/** The users each card shows, for finding the cards an event touches. */
export const shownOn = new Map<string, Set<string>>();

/** Whether the channel's interactions are calls (else chats), as the module says. */
function carriesCalls(channel: string): boolean {
  const kind = ctx.mirror.config().channels[channel]?.kind;
  return kind !== undefined && ctx.vocabulary.call_kinds.includes(kind);
}

function stateWord(now: AgentNow, entry: RosterEntry): string {
  if (now.state === "on_interaction" && entry.interaction)
    return say(carriesCalls(entry.interaction.channel) ? "onCall" : "inChat");
  const word = say(`state_${now.state}` as Word);
  return now.state === "paused" && now.reason ? `${word}: ${now.reason}` : word;
}

/** The agent's state and for how long; `data-since` lets the ticker advance it. */
function timeInState(now: AgentNow | undefined, entry: RosterEntry): HTMLElement {
  if (!now) return h("td", { class: "tis muted" }, "—");
  return h(
    "td",
    { class: "tis" },
    h(
      "span",
      { class: `state s-${now.state}`, "data-state": now.state, "data-reason": now.reason ?? undefined },
      stateWord(now, entry),
    ),
    " ",
    now.since !== undefined && now.since !== null
      ? h(
          "span",
          { class: "duration", "data-since": now.since, title: `${say("since")} ${clockTime(now.since, ui.lang)}` },
          elapsed(ctx.mirror.now() - now.since),
        )
      : null,
  );
}

function statusCell(entry: RosterEntry, channel: string): HTMLElement {
  const channels = ctx.mirror.config().channels;
  return h(
    "td",
    { class: "status" },
    entry.signed_in
      ? h(
          "span",
          {
            class: "badge in",
            title: `${say("since")} ${clockTime(entry.signed_in.since, ui.lang)} ${say("by")} ${nameOf(entry.signed_in.by)}`,
          },
          say("signedIn"),
        )
      : h("span", { class: "badge out" }, say("signedOut")),
    entry.unassigned_sign_in ? h("span", { class: "badge flag", "data-flag": "unassigned" }, say("unassigned")) : null,
    entry.paused ? h("span", { class: "badge paused" }, `${say("paused")}: ${entry.paused.reason}`) : null,
    entry.interaction
      ? h(
          "span",
          { class: "badge busy" },
          carriesCalls(entry.interaction.channel) ? say("onCall") : say("inChat"),
          entry.interaction.channel !== channel ? ` (${channels[entry.interaction.channel]?.name ?? ""})` : "",
        )
      : null,
    entry.wrap_up
      ? h(
          "span",
          { class: "badge wrap" },
          `${say("wrapUp")} `,
          h(
            "span",
            { class: "countdown", "data-until": entry.wrap_up.until },
            countdown(entry.wrap_up.until - ctx.mirror.now()),
          ),
        )
      : null,
    entry.monitored_by
      ? h(
          "span",
          { class: "badge monitor" },
          `${say("monitoredBy")} ${nameOf(entry.monitored_by.supervisor)} (${say(entry.monitored_by.mode)})`,
        )
      : null,
  );
}

function rowElement(channel: string, { entry, now }: Row): HTMLElement {
  const key = `${channel}/${entry.user}`;
  const assigned = [
    entry.assigned.agent ? say("assigned") : null,
    entry.assigned.supervisor ? say("asSupervisor") : null,
  ].filter(Boolean);
  const open = ui.openMenu === key;
  return h(
    "tr",
    { "data-user": entry.user, class: entry.unassigned_sign_in ? "unassigned" : "" },
    h(
      "th",
      { scope: "row" },
      h("div", { class: "name" }, entry.name),
      h("div", { class: "muted" }, assigned.length ? assigned.join(" · ") : say("notAssigned")),
    ),
    timeInState(now, entry),
    statusCell(entry, channel),
    h(
      "td",
      { class: "device" },
      entry.active_device
        ? h(
            "span",
            {},
            h("span", { class: "dot", role: "img", "aria-label": "active" }),
            ` ${entry.active_device.label || entry.active_device.device}`,
          )
        : h("span", { class: "muted" }, say("noDevice")),
    ),
    h(
      "td",
      { class: "actions" },
      h(
        "button",
        {
          class: "menu-button",
          "data-open-menu": key,
          "aria-haspopup": "menu",
          "aria-expanded": open ? "true" : "false",
          "aria-label": `${say("actions")}: ${entry.name}`,
          onclick: () => {
            ui.openMenu = open ? null : key;
            ctx.render([channel]);
            if (!open)
              requestAnimationFrame(() =>
                document.querySelector<HTMLElement>(`[data-menu="${CSS.escape(key)}"] button:not(:disabled)`)?.focus(),
              );
          },
        },
        `${say("actions")} ▾`,
      ),
      open ? actionsMenu(channel, entry.user) : null,
    ),
  );
}

/** Filters and sorts as the toolbar says (the roster comes sorted by name). */
function arrange(rows: Row[]): Row[] {
  const { text, state, sort } = ui.filter;
  const folded = (s: string) => s.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
  const wanted = folded(text.trim());
  let shown = rows.filter(
    (r) => (!wanted || folded(r.entry.name).includes(wanted)) && (!state || r.now?.state === state),
  );
  const order = ctx.vocabulary.agent_states;
  if (sort === "state") {
    shown = shown
      .slice()
      .sort((a, b) => order.indexOf(a.now?.state ?? "signed_out") - order.indexOf(b.now?.state ?? "signed_out"));
  } else if (sort === "duration") {
    // Longest first; no known start last.
    shown = shown.slice().sort((a, b) => (a.now?.since ?? Infinity) - (b.now?.since ?? Infinity));
  }
  return shown;
}

function rowsOf(channel: string): { all: Row[]; states: ChannelStates | null } {
  const at = ctx.mirror.now();
  const roster = ctx.mirror.tenant.roster(channel, at);
  const states = ctx.mirror.tenant.channelStates(channel, at);
  const byUser = new Map((states?.agents ?? []).map((a) => [a.user, a]));
  return { all: (roster?.entries ?? []).map((entry) => ({ entry, now: byUser.get(entry.user) })), states };
}

function counts(states: ChannelStates | null): HTMLElement {
  return h(
    "ul",
    { class: "counts", "aria-label": say("channelStates") },
    ctx.vocabulary.agent_states.map((state) =>
      h(
        "li",
        { class: `state s-${state}`, "data-count": state },
        `${say(`state_${state}` as Word)} `,
        h("strong", {}, String(states?.counts[state] ?? 0)),
      ),
    ),
  );
}

const HEAD = (): HTMLElement =>
  h(
    "thead",
    {},
    h(
      "tr",
      {},
      h("th", { scope: "col" }, say("agent")),
      h("th", { scope: "col" }, say("timeInState")),
      h("th", { scope: "col" }, say("status")),
      h("th", { scope: "col" }, say("device")),
      h("td", {}),
    ),
  );

/** Draws the rows of a windowed card that its scroll position shows. */
function drawWindow(channel: string, card: Card, scroller: HTMLElement): void {
  const first = Math.max(0, Math.floor(scroller.scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(card.rows.length, first + WINDOW_ROWS + 2 * OVERSCAN);
  const spacer = (rows: number) =>
    h("tr", { class: "spacer", "aria-hidden": "true", style: `height:${rows * ROW_HEIGHT}px` });
  const body = h(
    "tbody",
    {},
    spacer(first),
    card.rows.slice(first, last).map((row) => rowElement(channel, row)),
    spacer(card.rows.length - last),
  );
  scroller.querySelector("tbody")?.replaceWith(body);
}

function cardElement(channel: string): Card {
  const info = ctx.mirror.config().channels[channel];
  const { all, states } = rowsOf(channel);
  shownOn.forEach((channels) => channels.delete(channel));
  for (const row of all) {
    let set = shownOn.get(row.entry.user);
    if (!set) shownOn.set(row.entry.user, (set = new Set()));
    set.add(channel);
  }
  const rows = arrange(all);
  const card: Card = { element: h("section"), rows };
  const windowed = rows.length > WINDOWED_FROM;
  let body: HTMLElement;
  if (!rows.length) {
    body = h("p", { class: "muted" }, say("nobody"));
  } else if (!windowed) {
    body = h(
      "table",
      {},
      HEAD(),
      h(
        "tbody",
        {},
        rows.map((row) => rowElement(channel, row)),
      ),
    );
  } else {
    const scroller = h("div", {
      class: "rows",
      style: `height:${WINDOW_ROWS * ROW_HEIGHT}px`,
      tabindex: "0",
      "aria-label": `${info?.name ?? channel}: ${rows.length} ${say("rowsShown")}`,
    });
    scroller.append(h("table", {}, HEAD(), h("tbody")));
    let pending = false;
    scroller.addEventListener("scroll", () => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => {
        pending = false;
        drawWindow(channel, card, scroller);
      });
    });
    body = scroller;
  }
  card.element = h(
    "section",
    { class: "card", "data-channel": channel, "aria-labelledby": `channel-${channel}` },
    h(
      "header",
      {},
      h("h2", { id: `channel-${channel}` }, info?.name ?? channel),
      h(
        "span",
        { class: "muted" },
        `${say("wrapUp")} ${info?.wrap_up_secs ?? 0} s · ${rows.length}/${all.length} ${say("rowsShown")}`,
      ),
      h(
        "button",
        { class: "log-agent", "data-log-agent": channel, onclick: () => openLogAgent(channel) },
        say("logAgent"),
      ),
    ),
    counts(states),
    body,
  );
  if (windowed) drawWindow(channel, card, body);
  return card;
}

/** Forgets every card drawn: the next draw starts afresh (another user's view was opened). */
export function forgetCards(): void {
  for (const card of cards.values()) watcher.unobserve(card.element);
  cards.clear();
  near.clear();
  stale.clear();
  shownOn.clear();
}

/** The channels of the current tab, by name. */
export function channelsOfTab(): string[] {
  const channels = ctx.mirror.config().channels;
  return Object.keys(channels)
    .filter((c) => channels[c]?.kind === ui.tab)
    .sort((a, b) => (channels[a]?.name ?? a).localeCompare(channels[b]?.name ?? b));
}

/**
 * Draws the tab's cards into `container`: all of them when `dirty` is undefined, else
 * only those (the others keep their elements and scroll positions). Cards away from the
 * viewport are only marked stale; `redraw` is called when one comes near.
 */
export function drawChannels(
  container: HTMLElement,
  dirty: Set<string> | undefined,
  redraw: (channel: string) => void,
): void {
  onNear = redraw;
  const wanted = channelsOfTab();
  const onTab = new Set(wanted);
  for (const channel of cards.keys()) {
    if (!onTab.has(channel)) {
      const gone = cards.get(channel);
      if (gone) watcher.unobserve(gone.element);
      cards.delete(channel);
      near.delete(channel);
      stale.delete(channel);
    }
  }
  // Before the first layout nothing is known to be near: draw the first few.
  const firstDraw = cards.size === 0;
  for (const [index, channel] of wanted.entries()) {
    const old = cards.get(channel);
    if (old && dirty && !dirty.has(channel)) continue;
    if (old ? !near.has(channel) : !firstDraw || index >= 6) {
      stale.add(channel);
      if (!old) {
        const card = placeholder(channel);
        cards.set(channel, card);
        watcher.observe(card.element);
      }
      continue;
    }
    stale.delete(channel);
    const scrollTop = old?.element.querySelector(".rows")?.scrollTop ?? 0;
    const focused = old?.element.contains(document.activeElement)
      ? (document.activeElement as HTMLElement).dataset
      : undefined;
    const card = cardElement(channel);
    cards.set(channel, card);
    if (old) {
      watcher.unobserve(old.element);
      old.element.replaceWith(card.element);
    }
    watcher.observe(card.element);
    const scroller = card.element.querySelector<HTMLElement>(".rows");
    if (scroller && scrollTop) {
      scroller.scrollTop = scrollTop;
      drawWindow(channel, card, scroller);
    }
    // Keep the keyboard where it was across a redraw.
    if (focused?.action || focused?.openMenu) {
      const selector = focused.action
        ? `[data-menu] [data-action="${CSS.escape(focused.action)}"]`
        : `[data-open-menu="${CSS.escape(focused.openMenu ?? "")}"]`;
      card.element.querySelector<HTMLElement>(selector)?.focus();
    }
  }
  const elements = wanted.map((c) => cards.get(c)?.element).filter((e): e is HTMLElement => e !== undefined);
  const inPlace =
    elements.length === container.children.length && elements.every((e, i) => container.children[i] === e);
  if (!inPlace) container.replaceChildren(...elements);
}

/** Advances the durations and countdowns on screen (between events nothing redraws). */
export function tick(container: HTMLElement): boolean {
  const now = ctx.mirror.now();
  let expired = false;
  for (const span of container.querySelectorAll<HTMLElement>(".duration[data-since]")) {
    span.textContent = elapsed(now - Number(span.dataset.since));
  }
  for (const timer of container.querySelectorAll<HTMLElement>(".countdown[data-until]")) {
    const left = Number(timer.dataset.until) - now;
    timer.textContent = countdown(left);
    if (left <= 0) expired = true;
  }
  return expired;
}
