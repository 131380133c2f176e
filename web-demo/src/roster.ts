// One card per channel: its counts per state in the header, and a row per agent with
// their state, how long it has lasted (ticking), their status badges, device and Actions.
// Rows are the module's roster and channelStates views, filtered and sorted as the
// toolbar says. A long roster scrolls in a window (row-window.ts); which cards are drawn
// when is cards.ts.

import type { AgentNow, ChannelStates, RosterEntry } from "agentstate";
import { actionsMenu } from "./actions-menu.js";
import { ctx, nameOf, say, ui } from "./context.js";
import { clockTime, countdown, elapsed, h } from "./dom.js";
import type { Word } from "./i18n.js";
import { openLogAgent } from "./log-agent.js";
import { ROW_HEIGHT, WINDOWED_FROM, WINDOW_ROWS, drawWindow } from "./row-window.js";
import { send } from "./update.js";

export interface Row {
  entry: RosterEntry;
  now: AgentNow | undefined;
}

/** A channel's card: its element, and the rows it shows (all of them, windowed or not). */
export interface Card {
  element: HTMLElement;
  rows: Row[];
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
            send({ kind: "menu", key: open ? null : key, channel });
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
export function drawRows(channel: string, card: Card, scroller: HTMLElement): void {
  drawWindow(card.rows, scroller, (row) => rowElement(channel, row));
}

/** A channel's card, drawn: its header, counts and rows (in a scroll window when they are many). */
export function cardElement(channel: string): Card {
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
        drawRows(channel, card, scroller);
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
  if (windowed) drawRows(channel, card, body);
  return card;
}
