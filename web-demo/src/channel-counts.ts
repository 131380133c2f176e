// The agent's channels as counts per state — available, on a call or chat, wrap-up,
// paused, signed out — from the server: an agent sees colleagues only as numbers. They are
// asked for once when the screen opens; after that the live feed brings them whenever a
// count changes (at most once a second), so a center where every agent is live costs no
// polling.

import type { Word } from "./i18n.js";
import type { ChannelCounts } from "./api.js";
import { ctx, rolesOf, say, ui } from "./context.js";
import { h } from "./dom.js";
import { send } from "./update.js";

/** A busy screen asks again at most this often. */
const AGAIN_AFTER_MS = 1_000;

/** Asks the server for the counts, unless a request is under way (then once more after it). */
export function refreshCounts(): void {
  if (ui.screen !== "agent" || !rolesOf(ui.actor).includes("agent")) return;
  const busy = ui.counts.fetching;
  send({ kind: "counts_asked" });
  if (busy) return;
  // An answer for a screen since left (another actor: new counts) is dropped.
  const asked = ui.counts;
  ctx.api
    .channelCounts()
    .then(
      (channels) => {
        if (asked === ui.counts) send({ kind: "counts_answered", channels });
      },
      () => {
        if (asked === ui.counts) send({ kind: "counts_failed" });
      },
    )
    .finally(() => {
      if (asked !== ui.counts) return;
      const again = asked.again;
      send({ kind: "counts_done" });
      if (again) window.setTimeout(refreshCounts, AGAIN_AFTER_MS);
    });
}

/** New counts from the feed: drawn when they differ. */
export function showCounts(channels: ChannelCounts[]): void {
  send({ kind: "counts_answered", channels });
}

export function countsPanel(): HTMLElement {
  const { channels, failed } = ui.counts;
  return h(
    "section",
    { class: "panel", id: "my-channel-counts", "aria-labelledby": "my-channel-counts-title" },
    h("h3", { id: "my-channel-counts-title" }, say("channelCounts")),
    channels === null
      ? h("p", { class: "muted" }, say(failed ? "countsUnavailable" : "countsLoading"))
      : channels.length === 0
        ? h("p", { class: "muted" }, say("noAssignedChannels"))
        : h(
            "table",
            {},
            h(
              "tbody",
              {},
              channels.map((c) =>
                h(
                  "tr",
                  { "data-channel-counts": c.channel },
                  h("th", { scope: "row" }, c.name, h("div", { class: "muted" }, say(c.kind))),
                  h(
                    "td",
                    {},
                    h(
                      "ul",
                      { class: "counts", "aria-label": `${say("channelStates")}: ${c.name}` },
                      ctx.vocabulary.agent_states.map((state) => {
                        const word: Word =
                          state === "on_interaction"
                            ? ctx.vocabulary.call_kinds.includes(c.kind)
                              ? "onCall"
                              : "inChat"
                            : `state_${state}`;
                        return h(
                          "li",
                          { class: `state s-${state}`, "data-count": state },
                          `${say(word)} `,
                          h("strong", {}, String(c.counts[state] ?? 0)),
                        );
                      }),
                    ),
                  ),
                ),
              ),
            ),
          ),
  );
}
