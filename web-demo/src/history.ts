// The history panel: the events that touched one user, newest first, from the server, a
// page at a time ("older" reads the next page).

import { ctx, say, ui } from "./context.js";
import { clockTime, h } from "./dom.js";
import type { Event } from "agentstate";

let shown: { user: string; events: Event[]; nextBefore?: number } | null = null;

export async function showHistory(user: string): Promise<void> {
  const page = await ctx.api.history(user);
  shown = { user, events: page.events.map((e) => e.event as Event), nextBefore: page.next_before ?? undefined };
  ctx.render([]);
}

async function showOlder(): Promise<void> {
  if (!shown || shown.nextBefore === undefined) return;
  const { user, events, nextBefore } = shown;
  const page = await ctx.api.history(user, nextBefore);
  if (shown?.user !== user) return;
  shown = {
    user,
    events: [...events, ...page.events.map((e) => e.event as Event)],
    nextBefore: page.next_before ?? undefined,
  };
  ctx.render([]);
}

/** Closes the panel (another user's view was opened). */
export function closeHistory(): void {
  shown = null;
}

/** Reloads the history when an event touched the user it shows. */
export function historyTouched(events: Event[]): void {
  const user = shown?.user;
  if (user && events.some((e) => "user" in e && e.user === user)) void showHistory(user);
}

export function historyPanel(): HTMLElement | null {
  if (!shown) return null;
  const { user, events, nextBefore } = shown;
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
          onclick: () => {
            shown = null;
            ctx.render([]);
          },
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
