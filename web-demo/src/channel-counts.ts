// The agent's channels as counts per state — available, on a call or chat, wrap-up,
// paused, signed out — from the server's view: an agent sees colleagues only as numbers,
// and colleagues' changes do not come through the agent's feed, so the counts are asked
// for again when the feed brings events and every few seconds.

import type { Word } from "./i18n.js";
import { ctx, rolesOf, say, ui, redraw } from "./context.js";
import { h } from "./dom.js";

/** How often the counts are asked for while the agent's screen is shown. */
export const COUNTS_EVERY_MS = 5_000;
/** A busy feed asks again at most this often. */
const AGAIN_AFTER_MS = 1_000;

/** Asks the server for the counts, unless a request is under way (then once more after it). */
export function refreshCounts(): void {
  if (ui.screen !== "agent" || !rolesOf(ui.actor).includes("agent")) return;
  const counts = ui.counts;
  if (counts.fetching) {
    counts.again = true;
    return;
  }
  counts.fetching = true;
  const before = JSON.stringify(counts.channels);
  ctx.api
    .channelCounts()
    .then(
      (channels) => {
        counts.channels = channels;
        counts.failed = false;
      },
      () => {
        counts.failed = true;
      },
    )
    .finally(() => {
      counts.fetching = false;
      // A screen that did not change is not drawn again (an open picker stays open).
      if (counts === ui.counts && JSON.stringify(counts.channels) !== before) redraw.panels();
      if (counts.again) {
        counts.again = false;
        window.setTimeout(refreshCounts, AGAIN_AFTER_MS);
      }
    });
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
