// The history panel: the events that touched one user, newest first, from the server, a
// page at a time ("older" reads the next page).

import { ctx, say, ui } from "./context.js";
import { clockTime, h } from "./dom.js";
import { send } from "./update.js";
import type { Event } from "agentstate";

export async function showHistory(user: string): Promise<void> {
  const view = ui.view;
  const page = await ctx.api.history(user);
  send({
    kind: "history",
    view,
    history: { user, events: page.events.map((e) => e.event as Event), nextBefore: page.next_before ?? undefined },
  });
}

async function showOlder(): Promise<void> {
  if (!ui.history || ui.history.nextBefore === undefined) return;
  const { user, events, nextBefore } = ui.history;
  const view = ui.view;
  const page = await ctx.api.history(user, nextBefore);
  if (ui.history?.user !== user) return;
  send({
    kind: "history",
    view,
    history: {
      user,
      events: [...events, ...page.events.map((e) => e.event as Event)],
      nextBefore: page.next_before ?? undefined,
    },
  });
}

/** Reloads the history when an event touched the user it shows. */
export function historyTouched(events: Event[]): void {
  const user = ui.history?.user;
  if (user && events.some((e) => "user" in e && e.user === user)) void showHistory(user);
}

export function historyPanel(): HTMLElement | null {
  if (!ui.history) return null;
  const { user, events, nextBefore } = ui.history;
  return h(
    "section",
    { class: "panel", id: "history-panel", "aria-labelledby": "history-title" },
    h(
      "h3",
      { id: "history-title" },
      `${say("historyOf")} ${ctx.mirror.config().users[user]?.name ?? user}`,
      h(
        "button",
        {
          class: "close",
          "aria-label": say("close"),
          onclick: () => send({ kind: "history", view: ui.view, history: null }),
        },
        "×",
      ),
    ),
    h(
      "ol",
      { class: "history" },
      events.map((e) => {
        const details = Object.entries(e)
          .filter(([k]) => !["type", "at", "by", "user"].includes(k))
          .map(([k, v]) => `${k}: ${String(v)}`)
          .join(", ");
        return h(
          "li",
          {},
          h("time", {}, clockTime(e.at, ui.lang)),
          ` ${e.type} `,
          h("span", { class: "muted" }, `${say("by")} ${e.by}${details ? ` — ${details}` : ""}`),
        );
      }),
    ),
    nextBefore === undefined ? null : h("button", { class: "older", onclick: () => void showOlder() }, say("older")),
  );
}
