// The agent's own dashboard: their assigned channels with their state on each, "log in to
// queues" for several at once, channels they may join, ready / pause / log out per channel
// and everywhere, their call or chat (and a supervisor they hear), their wrap-up with
// "End wrap-up", their devices, and their channels' counts per state (colleagues only as
// numbers: channel-counts.ts). Every control is enabled by the module's verdict for
// the agent acting on themselves, the reason as its tooltip.

import type { Action, AgentNow, MyChannel, Rejection, Verdict } from "agentstate";
import { Tenant } from "agentstate";
import { countsPanel } from "./channel-counts.js";
import { actAll, ctx, reason, say, ui, verdictOf } from "./context.js";
import { clockTime, countdown, elapsed, h } from "./dom.js";
import type { Word } from "./i18n.js";
import { send } from "./update.js";

/** The channels ticked for "log in to selected", and the pause reason chosen. */

/** A button sending `actions` — a function when they depend on a choice made after drawing (the pause reason). */
function button(
  label: string,
  verdict: Verdict | undefined,
  actions: Action[] | (() => Action[]),
  key: string,
): HTMLButtonElement {
  const allowed = verdict?.allowed ?? false;
  const sent = () => (typeof actions === "function" ? actions() : actions);
  return h(
    "button",
    {
      "data-agent-action": key,
      disabled: !allowed,
      title: allowed ? label : reason(verdict?.rejection as Rejection | undefined),
      onclick: () => {
        const chosen = sent();
        void actAll(
          chosen,
          chosen.map(() => verdict ?? { allowed: false }),
        );
      },
    },
    label,
  );
}

function stateText(now: AgentNow): HTMLElement {
  const word = say(`state_${now.state}` as Word);
  return h(
    "span",
    {},
    h("span", { class: `state s-${now.state}`, "data-state": now.state }, now.reason ? `${word}: ${now.reason}` : word),
    " ",
    now.since !== undefined && now.since !== null
      ? h("span", { class: "duration", "data-since": now.since }, elapsed(ctx.mirror.now() - now.since))
      : null,
  );
}

/** The pause reason the agent chose, while the tenant still has it; else its first. */
function pauseReason(): string {
  const choices = ctx.mirror.pauseReasons();
  return choices.includes(ui.pauseReason) ? ui.pauseReason : (choices[0] ?? ui.pauseReason);
}

function reasonPicker(): HTMLSelectElement {
  const choices = ctx.mirror.pauseReasons();
  const chosen = pauseReason();
  return h(
    "select",
    {
      id: "agent-reason",
      "aria-label": say("pauseReason"),
      onchange: (e: globalThis.Event) =>
        send({ kind: "pause_reason_chosen", reason: (e.target as HTMLSelectElement).value }),
    },
    choices.map((r) => h("option", { value: r, selected: r === chosen }, r)),
  );
}

/** A channel the agent may tick for "log in to selected". */
function pickable(c: MyChannel): boolean {
  return c.assigned && !c.signed_in;
}

function channelRow(me: string, c: MyChannel, at: number): HTMLElement {
  const v = ctx.mirror.tenant.allowedActions(me, me, c.channel, at);
  const canPick = pickable(c);
  return h(
    "tr",
    { "data-my-channel": c.channel },
    h(
      "td",
      {},
      canPick
        ? h("input", {
            type: "checkbox",
            "data-pick": c.channel,
            "aria-label": `${say("select")} ${c.name}`,
            checked: ui.picked.has(c.channel),
            onchange: (e: globalThis.Event) =>
              send({ kind: "channel_ticked", channel: c.channel, on: (e.target as HTMLInputElement).checked }),
          })
        : null,
    ),
    h(
      "th",
      { scope: "row" },
      c.name,
      h("div", { class: "muted" }, say(c.kind === "queue" ? "queue" : c.kind === "chat" ? "chat" : "campaign")),
    ),
    h(
      "td",
      {},
      stateText(c.now),
      c.unassigned_sign_in ? h("span", { class: "badge flag", "data-flag": "unassigned" }, say("unassigned")) : null,
      c.flagged ? h("span", { class: "badge flag" }, say("flagged")) : null,
    ),
    h(
      "td",
      { class: "agent-actions" },
      button(say("sign_in"), v.sign_in, [{ type: "sign_in", user: me, channel: c.channel }], `sign_in:${c.channel}`),
      button(say("resume"), v.resume, [{ type: "resume", user: me, channel: c.channel }], `resume:${c.channel}`),
      button(
        say("pause"),
        v.pause,
        () => [{ type: "pause", user: me, channel: c.channel, reason: pauseReason() }],
        `pause:${c.channel}`,
      ),
      button(
        say("sign_out"),
        v.sign_out,
        [{ type: "sign_out", user: me, channel: c.channel }],
        `sign_out:${c.channel}`,
      ),
    ),
  );
}

/** Channels the agent is neither assigned to nor signed in to, but may join now. */
function joinable(me: string, mine: Set<string>, at: number): HTMLElement {
  const channels = ctx.mirror.config().channels;
  const others = Object.keys(channels)
    .filter((c) => !mine.has(c))
    .sort((a, b) => (channels[a]?.name ?? a).localeCompare(channels[b]?.name ?? b));
  const verdicts = others.map((c) => [c, ctx.mirror.tenant.allowedActions(me, me, c, at).sign_in] as const);
  const open = verdicts.filter(([, v]) => v?.allowed);
  const closed = verdicts.find(([, v]) => v && !v.allowed)?.[1];
  return h(
    "section",
    { class: "panel", id: "joinable", "aria-labelledby": "joinable-title" },
    h("h3", { id: "joinable-title" }, say("joinable")),
    open.length
      ? h(
          "ul",
          {},
          open.map(([c, v]) =>
            h(
              "li",
              { "data-join": c },
              `${channels[c]?.name ?? c} `,
              button(say("join"), v, [{ type: "sign_in", user: me, channel: c }], `join:${c}`),
            ),
          ),
        )
      : h("p", { class: "muted" }, closed ? reason(closed.rejection as Rejection | undefined) : say("nothingToJoin")),
  );
}

export function agentScreen(): HTMLElement {
  const me = ui.actor;
  const at = ctx.mirror.now();
  const dashboard = ctx.mirror.tenant.agentDashboard(me, at);
  // Whether this user has an agent dashboard is a rule: ask it what self-service gives.
  const self = verdictOf({ type: "sign_in_assigned", user: me });
  if (!dashboard || (!self.allowed && self.rejection?.code === "no_agent_dashboard")) {
    return h(
      "section",
      { class: "panel", id: "no-agent-dashboard", role: "alert" },
      h("h2", {}, say("myDashboard")),
      h("p", {}, Tenant.message(self.rejection as Rejection, ui.lang)),
    );
  }
  const everywhere = ctx.mirror.tenant.allowedActions(me, me, undefined, at);
  // A ticked channel counts while it can be picked (assigned, not signed in to).
  const pickedActions: Action[] = dashboard.channels
    .filter((c) => pickable(c) && ui.picked.has(c.channel))
    .map((c) => ({ type: "sign_in", user: me, channel: c.channel }));
  const pickedVerdict: Verdict = pickedActions.length
    ? (pickedActions.map((a) => verdictOf(a)).find((v) => !v.allowed) ?? { allowed: true })
    : { allowed: false, rejection: undefined };
  const call = dashboard.interaction;
  const channels = ctx.mirror.config().channels;
  return h(
    "div",
    { id: "agent-screen-content" },
    h("h2", { class: "screen-title" }, `${say("myDashboard")} — ${dashboard.name}`),
    h(
      "section",
      { class: "panel now", "aria-live": "polite" },
      call
        ? h(
            "p",
            { id: "my-interaction" },
            `${say(ctx.vocabulary.call_kinds.includes(channels[call.channel]?.kind ?? "chat") ? "onCall" : "inChat")} · ${channels[call.channel]?.name ?? call.channel} · ${say("since")} ${clockTime(call.since, ui.lang)}`,
            call.heard_supervisor
              ? h(
                  "strong",
                  { id: "heard-supervisor" },
                  ` · ${call.heard_supervisor.name}: ${say(call.heard_supervisor.mode)}`,
                )
              : null,
          )
        : null,
      dashboard.wrap_up
        ? h(
            "p",
            { id: "my-wrap-up" },
            `${say("wrapUp")} · ${channels[dashboard.wrap_up.channel]?.name ?? ""} `,
            h(
              "span",
              { class: "countdown", "data-until": dashboard.wrap_up.until },
              countdown(dashboard.wrap_up.until - at),
            ),
            " ",
            button(say("end_wrap_up"), everywhere.end_wrap_up, [{ type: "end_wrap_up", user: me }], "end_wrap_up"),
          )
        : null,
      !call && !dashboard.wrap_up ? h("p", { class: "muted" }, say("noInteraction")) : null,
    ),
    h(
      "section",
      { class: "panel", "aria-labelledby": "my-channels-title" },
      h("h3", { id: "my-channels-title" }, say("myChannels")),
      h(
        "div",
        { class: "everywhere" },
        reasonPicker(),
        button(
          `${say("pause")} (${say("everywhere")})`,
          everywhere.pause,
          () => [{ type: "pause", user: me, reason: pauseReason() }],
          "pause_all",
        ),
        button(
          `${say("resume")} (${say("everywhere")})`,
          everywhere.resume,
          [{ type: "resume", user: me }],
          "resume_all",
        ),
        button(say("sign_out_all"), everywhere.sign_out_all, [{ type: "sign_out_all", user: me }], "sign_out_all"),
      ),
      h(
        "table",
        {},
        h(
          "tbody",
          {},
          dashboard.channels.map((c) => channelRow(me, c, at)),
        ),
      ),
      h(
        "div",
        { class: "everywhere" },
        button(
          `${say("signInSelected")} (${pickedActions.length})`,
          pickedVerdict,
          () => {
            // Signed in to, they are no longer to pick: the ticks go with the request.
            send({ kind: "ticks_cleared" });
            return pickedActions;
          },
          "sign_in_selected",
        ),
        button(
          say("signInAssigned"),
          verdictOf({ type: "sign_in_assigned", user: me }),
          [{ type: "sign_in_assigned", user: me }],
          "sign_in_assigned",
        ),
      ),
    ),
    countsPanel(),
    joinable(me, new Set(dashboard.channels.map((c) => c.channel)), at),
    h(
      "section",
      { class: "panel", "aria-labelledby": "my-devices-title" },
      h("h3", { id: "my-devices-title" }, say("devices")),
      dashboard.devices.length
        ? h(
            "ul",
            { class: "devices" },
            dashboard.devices.map((d) =>
              h(
                "li",
                { "data-device": d.device },
                h("span", {
                  class: d.active ? "dot" : "dot off",
                  role: "img",
                  "aria-label": d.active ? "active" : "inactive",
                }),
                ` ${d.label || d.device} (${d.kind})`,
              ),
            ),
          )
        : h("p", { class: "muted" }, say("noDevice")),
    ),
  );
}
