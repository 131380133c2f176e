// Lingering unassigned sign-ins: who is signed in where they are not assigned (flagged
// once an admin turned unassigned sign-in off), and "sign them all out".

import type { Rejection, Verdict } from "agentstate";
import { act, ctx, nameOf, names, reason, say, ui } from "./context.js";
import { clockTime, h } from "./dom.js";

export function lingeringPanel(): HTMLElement {
  const tenant = ctx.mirror.tenant;
  const lingering = tenant.lingeringUnassigned();
  // The everyone-form of sign_out_unassigned is not in allowedActions (that is per user):
  // ask the module what the command would give.
  const bulk = tenant.decide({ type: "sign_out_unassigned", actor: ui.actor, at: ctx.mirror.now() });
  const verdict: Verdict =
    bulk.outcome === "accepted" ? { allowed: true } : { allowed: false, rejection: bulk.rejection };
  return h(
    "section",
    { class: "panel", id: "lingering-panel", "aria-labelledby": "lingering-title" },
    h("h3", { id: "lingering-title" }, say("lingering")),
    lingering.length === 0
      ? h("p", { class: "muted" }, say("lingeringNone"))
      : h(
          "ul",
          {},
          lingering.map((l) =>
            h(
              "li",
              { "data-lingering": `${l.channel}/${l.user}` },
              h("strong", {}, l.name),
              ` · ${l.channel_name} · ${say("since")} ${clockTime(l.since, ui.lang)} ${say("by")} ${nameOf(l.by)}`,
              l.flagged ? h("span", { class: "badge flag" }, say("flagged")) : null,
            ),
          ),
        ),
    h(
      "button",
      {
        id: "bulk-sign-out",
        disabled: !verdict.allowed,
        onclick: () => {
          // A bulk action says what it will do before it does it.
          const ending = bulk.outcome === "accepted" ? bulk.events.filter((e) => e.type === "signed_out") : [];
          const who = ending
            .map((e) => ("user" in e && "channel" in e ? `${nameOf(e.user)} – ${names().channel(e.channel)}` : ""))
            .join(", ");
          if (window.confirm(`${ending.length} ${say("bulkPreview")} ${who}.`))
            void act({ type: "sign_out_unassigned" }, verdict);
        },
        title: verdict.allowed ? say("bulkSignOut") : reason(verdict.rejection as Rejection | undefined),
      },
      say("bulkSignOut"),
    ),
  );
}
