// The day at a glance for one agent: per channel, a bar of their states today (SVG, one
// rectangle per interval, the pause reason on paused ones) and the totals since midnight,
// from the server's activity report; the whole tenant's report as CSV for the same range.

import type { ActivityReport, ActivityRow, StateInterval } from "agentstate";
import { ctx, say, toast, ui } from "./context.js";
import { clockTime, elapsed, h, svg } from "./dom.js";
import type { Word } from "./i18n.js";
import { send } from "./update.js";

/** Midnight, local time: where "today" begins for the person looking. */
function startOfDay(now: number): number {
  const day = new Date(now);
  day.setHours(0, 0, 0, 0);
  return day.getTime();
}

export async function openTimeline(user: string): Promise<void> {
  const to = ctx.mirror.now();
  const view = ui.view;
  try {
    send({ kind: "timeline", view, timeline: { user, report: await ctx.api.activity(startOfDay(to), to) } });
  } catch (error) {
    toast(String(error), "error");
    return;
  }
  requestAnimationFrame(() => document.getElementById("timeline-title")?.focus());
}

function stateLabel(interval: StateInterval): string {
  const word = say(`state_${interval.state}` as Word);
  return interval.reason ? `${word}: ${interval.reason}` : word;
}

function bar(row: ActivityRow, from: number, to: number): SVGElement {
  const width = 1000;
  const x = (ms: number) => ((Math.max(ms, from) - from) / Math.max(1, to - from)) * width;
  return svg(
    "svg",
    {
      class: "bar",
      viewBox: `0 0 ${width} 20`,
      preserveAspectRatio: "none",
      role: "img",
      "aria-label": row.intervals
        .map((i) => `${stateLabel(i)} ${clockTime(i.from, ui.lang)}–${clockTime(i.to, ui.lang)}`)
        .join("; "),
    },
    row.intervals
      .filter((interval) => interval.to > from)
      .map((interval) =>
        svg(
          "rect",
          {
            class: `iv s-${interval.state}`,
            x: x(interval.from).toFixed(2),
            width: Math.max(0.5, x(interval.to) - x(interval.from)).toFixed(2),
            y: 0,
            height: 20,
            "data-state": interval.state,
            "data-reason": interval.reason ?? undefined,
            "data-from": interval.from,
            "data-to": interval.to,
          },
          svg(
            "title",
            {},
            `${stateLabel(interval)}: ${clockTime(interval.from, ui.lang)}–${clockTime(interval.to, ui.lang)}`,
          ),
        ),
      ),
  );
}

function totals(row: ActivityRow): HTMLElement {
  const t = row.totals;
  const item = (key: string, label: string, ms: number) => [
    h("dt", {}, label),
    h("dd", { "data-total": key, "data-ms": ms }, elapsed(ms)),
  ];
  return h(
    "dl",
    { class: "totals" },
    item("signed_in", say("total_signed_in"), t.signed_in_ms),
    item("available", say("total_available"), t.available_ms),
    item("on_interaction", say("total_on_interaction"), t.on_interaction_ms),
    item("wrap_up", say("total_wrap_up"), t.wrap_up_ms),
    item("paused", say("total_paused"), t.paused_ms),
    Object.entries(t.paused_by_reason).flatMap(([reason, ms]) =>
      item(`paused:${reason}`, `${say("total_paused")}: ${reason}`, ms ?? 0),
    ),
    h("dt", {}, say("handled")),
    h("dd", { "data-total": "handled" }, String(t.interactions_handled)),
  );
}

async function download(report: ActivityReport): Promise<void> {
  const blob = await ctx.api.activityCsv(report.from, report.to);
  const link = h("a", {
    href: URL.createObjectURL(blob),
    download: `activity-${ctx.api.tenant}-${new Date(report.from).toISOString().slice(0, 10)}.csv`,
  });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

export function timelinePanel(): HTMLElement | null {
  if (!ui.timeline) return null;
  const { user, report } = ui.timeline;
  const channels = ctx.mirror.config().channels;
  const rows = report.rows.filter((row) => row.user === user);
  // The bars start where the agent's day did (their first sign-in in the range): a shift
  // that began at nine is not drawn as a sliver at the end of a bar from midnight.
  const began = Math.min(
    ...rows.flatMap((row) => row.intervals.filter((i) => i.state !== "signed_out").map((i) => i.from)),
  );
  const from = Number.isFinite(began) ? began : report.from;
  return h(
    "section",
    { class: "panel", id: "timeline-panel", "data-user": user, "aria-labelledby": "timeline-title" },
    h(
      "h3",
      { id: "timeline-title", tabindex: "-1" },
      `${say("timelineOf")} ${ctx.mirror.config().users[user]?.name ?? user}`,
      h(
        "button",
        {
          class: "close",
          "aria-label": say("close"),
          onclick: () => send({ kind: "timeline", view: ui.view, timeline: null }),
        },
        "×",
      ),
    ),
    h(
      "p",
      { class: "muted range" },
      h("span", {}, clockTime(from, ui.lang)),
      h("span", {}, clockTime(report.to, ui.lang)),
    ),
    rows.length === 0 ? h("p", { class: "muted" }, say("noActivity")) : null,
    rows.map((row) =>
      h(
        "div",
        { class: "timeline-row", "data-channel": row.channel },
        h("h4", {}, channels[row.channel]?.name ?? row.channel),
        bar(row, from, report.to),
        totals(row),
      ),
    ),
    h(
      "ul",
      { class: "legend", "aria-hidden": "true" },
      ctx.vocabulary.agent_states.map((state) =>
        h("li", {}, h("span", { class: `swatch s-${state}` }), say(`state_${state}` as Word)),
      ),
    ),
    h(
      "button",
      { id: "download-csv", onclick: () => void download(report).catch((e: unknown) => toast(String(e), "error")) },
      say("downloadCsv"),
    ),
  );
}
