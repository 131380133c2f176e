// The supervisor dashboard: channels by kind with their rosters, an Actions menu per
// agent enabled from the module's allowedActions, "+ Log agent", lingering unassigned
// sign-ins, history, settings for admins, German/English, and "act as" a demo user.

import init, { Tenant, type AllowedActions, type ChannelKind, type Rejection, type Role, type State, type Verdict } from "agentstate";
import { Api } from "./api.js";
import { byId, clockTime, countdown, h } from "./dom.js";
import { t, type Lang, type Word } from "./i18n.js";
import { Mirror } from "./mirror.js";

interface DemoToken {
  actor: string;
  name: string;
  roles: Role[];
  token: string;
}

interface LogAgent {
  channel: string;
  text: string;
  roles: Role[];
  expanded: Set<string>;
}

const ui = {
  lang: (localStorage.getItem("lang") === "de" ? "de" : "en") as Lang,
  tab: "queue" as ChannelKind,
  actor: "sam",
  openMenu: null as string | null,
  logAgent: null as LogAgent | null,
  history: null as { user: string; events: import("agentstate").Event[] } | null,
};

let api: Api;
let mirror: Mirror;
let tokens: DemoToken[] = [];

function say(word: Word): string {
  return t(ui.lang, word);
}

function reason(rejection: Rejection | undefined): string {
  return rejection ? Tenant.message(rejection, ui.lang) : "";
}

function toast(text: string, kind: "ok" | "error" | "warn"): void {
  const box = byId("toast");
  box.replaceChildren(h("div", { class: `toast ${kind}`, role: "status", "data-kind": kind }, text));
  window.setTimeout(() => box.firstChild?.remove(), 6000);
}

/** Sends a command as the acting user and reports the server's verdict. */
async function act(command: Record<string, unknown>, local: Verdict | undefined): Promise<void> {
  const posted = await api.command(command);
  const body = posted.body;
  if (body.error) {
    toast(`${body.error.code}: ${body.error.message}`, "error");
    return;
  }
  const accepted = body.outcome === "accepted";
  if (local && local.allowed !== accepted) {
    toast(`${say("serverDiffers")}: ${body.rejection?.message ?? body.outcome}`, "warn");
  } else if (accepted) {
    toast(`${say("done")}: ${(body.events ?? []).map((e) => e.type).join(", ")}`, "ok");
  } else {
    toast(body.rejection?.message ?? String(body.outcome), "error");
  }
}

function actionButton(label: string, verdict: Verdict | undefined, command: Record<string, unknown>, name: string) {
  const allowed = verdict?.allowed ?? false;
  return h(
    "button",
    {
      class: "action",
      "data-action": name,
      disabled: !allowed,
      title: allowed ? label : reason(verdict?.rejection as Rejection | undefined),
      onclick: () => {
        ui.openMenu = null;
        void act(command, verdict);
        render();
      },
    },
    label,
  );
}

function actionsMenu(state: State, channel: string, user: string): HTMLElement {
  const v: AllowedActions = mirror.tenant.allowedActions(ui.actor, user, channel, mirror.now());
  const kind = state.channels[channel]?.kind;
  const reasons = state.pause_reasons.length > 0 ? state.pause_reasons : ["break"];
  return h(
    "div",
    { class: "menu", role: "menu", "data-menu": `${channel}/${user}` },
    actionButton(say("sign_in"), v.sign_in, { type: "sign_in", user, channel }, "sign_in"),
    actionButton(say("sign_out"), v.sign_out, { type: "sign_out", user, channel }, "sign_out"),
    reasons.map((r) => actionButton(`${say("pause")}: ${r}`, v.pause, { type: "pause", user, channel, reason: r }, `pause:${r}`)),
    actionButton(say("resume"), v.resume, { type: "resume", user, channel }, "resume"),
    actionButton(say("end_wrap_up"), v.end_wrap_up, { type: "end_wrap_up", user }, "end_wrap_up"),
    kind === "chat"
      ? null
      : (["listen", "whisper", "barge"] as const).map((mode) =>
          actionButton(`${say("monitor")}: ${say(mode)}`, v.monitor[mode], { type: "monitor", user, mode }, `monitor:${mode}`),
        ),
    actionButton(say("stop_monitor"), v.stop_monitor, { type: "stop_monitor", user }, "stop_monitor"),
    actionButton(say("sign_out_all"), v.sign_out_all, { type: "sign_out_all", user }, "sign_out_all"),
    h("button", { class: "action", "data-action": "history", onclick: () => void showHistory(user) }, say("history")),
  );
}

function statusCell(state: State, entry: import("agentstate").RosterEntry, channel: string): HTMLElement {
  const name = (id: string) => state.users[id]?.name ?? id;
  const parts: (HTMLElement | null)[] = [
    entry.signed_in
      ? h("span", { class: "badge in", title: `${say("since")} ${clockTime(entry.signed_in.since, ui.lang)} ${say("by")} ${name(entry.signed_in.by)}` }, say("signedIn"))
      : h("span", { class: "badge out" }, say("signedOut")),
    entry.unassigned_sign_in ? h("span", { class: "badge flag", "data-flag": "unassigned" }, say("unassigned")) : null,
    entry.paused ? h("span", { class: "badge paused" }, `${say("paused")}: ${entry.paused.reason}`) : null,
    entry.interaction
      ? h(
          "span",
          { class: "badge busy" },
          state.channels[entry.interaction.channel]?.kind === "chat" ? say("inChat") : say("onCall"),
          entry.interaction.channel !== channel ? ` (${state.channels[entry.interaction.channel]?.name ?? ""})` : "",
        )
      : null,
    entry.wrap_up
      ? h("span", { class: "badge wrap" }, `${say("wrapUp")} `, h("span", { class: "countdown", "data-until": entry.wrap_up.until }, countdown(entry.wrap_up.until - Date.now())))
      : null,
    entry.monitored_by
      ? h("span", { class: "badge monitor" }, `${say("monitoredBy")} ${name(entry.monitored_by.supervisor)} (${say(entry.monitored_by.mode)})`)
      : null,
  ];
  return h("td", { class: "status" }, parts);
}

function rosterCard(state: State, channel: string): HTMLElement {
  const roster = mirror.tenant.roster(channel, mirror.now());
  const info = state.channels[channel];
  if (!roster || !info) return h("div");
  const signedIn = roster.entries.filter((e) => e.signed_in).length;
  const rows = roster.entries.map((entry) => {
    const key = `${channel}/${entry.user}`;
    const assigned = [entry.assigned.agent ? say("assigned") : null, entry.assigned.supervisor ? say("asSupervisor") : null].filter(Boolean);
    return h(
      "tr",
      { "data-user": entry.user, class: entry.unassigned_sign_in ? "unassigned" : "" },
      h("td", {}, h("div", { class: "name" }, entry.name), h("div", { class: "muted" }, assigned.length ? assigned.join(" · ") : say("notAssigned"))),
      statusCell(state, entry, channel),
      h(
        "td",
        { class: "device" },
        entry.active_device
          ? h("span", {}, h("span", { class: "dot", title: "active" }), ` ${entry.active_device.label || entry.active_device.device}`)
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
            "aria-expanded": ui.openMenu === key ? "true" : "false",
            onclick: () => {
              ui.openMenu = ui.openMenu === key ? null : key;
              render();
            },
          },
          `${say("actions")} ▾`,
        ),
        ui.openMenu === key ? actionsMenu(state, channel, entry.user) : null,
      ),
    );
  });
  return h(
    "section",
    { class: "card", "data-channel": channel },
    h(
      "header",
      {},
      h("h2", {}, info.name),
      h("span", { class: "muted" }, `${signedIn} ${say("signedIn")} · ${say("wrapUp")} ${info.wrap_up_secs} s`),
      h("button", { class: "log-agent", "data-log-agent": channel, onclick: () => openLogAgent(channel) }, say("logAgent")),
    ),
    rows.length
      ? h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, say("agent")), h("th", {}, say("status")), h("th", {}, say("device")), h("th", {}, ""))), h("tbody", {}, rows))
      : h("p", { class: "muted" }, say("nobody")),
  );
}

function lingeringPanel(state: State): HTMLElement {
  const lingering = mirror.tenant.lingeringUnassigned();
  // The everyone-form of sign_out_unassigned is not in allowedActions (that is per user):
  // ask the module what the command would give.
  const bulk = mirror.tenant.decide({ type: "sign_out_unassigned", actor: ui.actor, at: mirror.now() });
  const verdict: Verdict = bulk.outcome === "accepted" ? { allowed: true } : { allowed: false, rejection: bulk.rejection };
  return h(
    "section",
    { class: "panel", id: "lingering-panel" },
    h("h3", {}, say("lingering")),
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
              ` · ${l.channel_name} · ${say("since")} ${clockTime(l.since, ui.lang)} ${say("by")} ${state.users[l.by]?.name ?? l.by}`,
              l.flagged ? h("span", { class: "badge flag" }, say("flagged")) : null,
            ),
          ),
        ),
    h(
      "button",
      {
        id: "bulk-sign-out",
        disabled: !verdict.allowed,
        onclick: () => void act({ type: "sign_out_unassigned" }, verdict),
        title: verdict.allowed ? say("bulkSignOut") : reason(verdict.rejection as Rejection | undefined),
      },
      say("bulkSignOut"),
    ),
  );
}

function settingsPanel(state: State): HTMLElement | null {
  const me = state.users[ui.actor];
  if (!me?.roles.includes("admin")) return null;
  const settings = ["unassigned_sign_in", "supervisor_wrap_up_end", "supervisors_limited_to_assigned"] as const;
  const defaults = { unassigned_sign_in: true, supervisor_wrap_up_end: false, supervisors_limited_to_assigned: true };
  return h(
    "section",
    { class: "panel", id: "settings-panel" },
    h("h3", {}, say("settings")),
    settings.map((setting) => {
      const on = state.settings[setting] ?? defaults[setting];
      return h(
        "label",
        { class: "setting" },
        h("input", {
          type: "checkbox",
          "data-setting": setting,
          checked: on,
          onchange: (e: Event) => void act({ type: "set_setting", setting, value: (e.target as HTMLInputElement).checked }, undefined),
        }),
        ` ${say(setting)}`,
      );
    }),
  );
}

function historyPanel(state: State): HTMLElement | null {
  const shown = ui.history;
  if (!shown) return null;
  return h(
    "section",
    { class: "panel", id: "history-panel" },
    h("h3", {}, `${say("historyOf")} ${state.users[shown.user]?.name ?? shown.user}`, h("button", { class: "close", onclick: () => { ui.history = null; render(); } }, "×")),
    h(
      "ol",
      { class: "history" },
      shown.events
        .slice()
        .reverse()
        .map((e) => {
          const details = Object.entries(e)
            .filter(([k]) => !["type", "at", "by", "user"].includes(k))
            .map(([k, v]) => `${k}: ${String(v)}`)
            .join(", ");
          return h("li", {}, h("time", {}, clockTime(e.at, ui.lang)), ` ${e.type} `, h("span", { class: "muted" }, `${say("by")} ${e.by}${details ? ` — ${details}` : ""}`));
        }),
    ),
  );
}

async function showHistory(user: string): Promise<void> {
  ui.openMenu = null;
  ui.history = { user, events: await api.history(user) };
  render();
}

function openLogAgent(channel: string): void {
  ui.logAgent = { channel, text: "", roles: [], expanded: new Set() };
  const dialog = byId<HTMLDialogElement>("log-agent");
  renderLogAgent();
  if (!dialog.open) dialog.showModal();
  dialog.querySelector<HTMLInputElement>("input[type=search]")?.focus();
}

function renderLogAgentResults(): void {
  const picker = ui.logAgent;
  const list = document.getElementById("log-agent-results");
  if (!picker || !list) return;
  const state = mirror.state();
  const channelName = state.channels[picker.channel]?.name ?? picker.channel;
  const matches = mirror.tenant.searchUsers(picker.text, picker.roles);
  list.replaceChildren(
    ...matches.map((m) => {
      const verdict = mirror.tenant.allowedActions(ui.actor, m.user, picker.channel, mirror.now()).sign_in;
      const open = picker.expanded.has(m.user);
      return h(
        "li",
        { "data-match": m.user },
        h("button", { class: "expand", "aria-expanded": open ? "true" : "false", onclick: () => { open ? picker.expanded.delete(m.user) : picker.expanded.add(m.user); renderLogAgentResults(); } }, open ? "▾" : "▸"),
        h("strong", {}, m.name),
        h("span", { class: "muted" }, ` ${m.roles.length ? m.roles.join(", ") : say("noRoles")}`),
        actionButton(`${say("signInTo")} ${channelName}`, verdict, { type: "sign_in", user: m.user, channel: picker.channel }, "sign_in"),
        open
          ? h(
              "ul",
              { class: "devices" },
              m.devices.length === 0 ? h("li", { class: "muted" }, say("noDevice")) : null,
              m.devices.map((d) =>
                h("li", { "data-device": d.device, class: d.active ? "active" : "" }, d.active ? h("span", { class: "dot", title: "active" }) : h("span", { class: "dot off" }), ` ${d.label || d.device} (${d.kind})`),
              ),
            )
          : null,
      );
    }),
  );
}

function renderLogAgent(): void {
  const picker = ui.logAgent;
  const dialog = byId<HTMLDialogElement>("log-agent");
  if (!picker) return;
  const state = mirror.state();
  const roles: Role[] = ["agent", "supervisor", "admin"];
  dialog.replaceChildren(
    h("h3", {}, `${say("logAgent")} — ${state.channels[picker.channel]?.name ?? picker.channel}`),
    h("input", {
      type: "search",
      placeholder: say("search"),
      value: picker.text,
      oninput: (e: Event) => {
        picker.text = (e.target as HTMLInputElement).value;
        renderLogAgentResults();
      },
    }),
    h(
      "div",
      { class: "roles" },
      `${say("roles")}: `,
      roles.map((role) =>
        h(
          "label",
          {},
          h("input", {
            type: "checkbox",
            "data-role": role,
            checked: picker.roles.includes(role),
            onchange: (e: Event) => {
              picker.roles = (e.target as HTMLInputElement).checked ? [...picker.roles, role] : picker.roles.filter((r) => r !== role);
              renderLogAgentResults();
            },
          }),
          ` ${role} `,
        ),
      ),
    ),
    h("ul", { id: "log-agent-results", class: "matches" }),
    h("button", { class: "close", onclick: () => { ui.logAgent = null; dialog.close(); } }, say("close")),
  );
  renderLogAgentResults();
}

let scheduled = false;
function render(): void {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    draw();
  });
}

function draw(): void {
  const state = mirror.state();
  document.documentElement.lang = ui.lang;
  byId("title").textContent = `agentstate — ${say("title")}`;
  byId("act-as-label").textContent = say("actAs");
  const tabs: [ChannelKind, Word][] = [["queue", "queues"], ["chat", "chats"], ["campaign", "campaigns"]];
  byId("tabs").replaceChildren(
    ...tabs.map(([kind, word]) =>
      h("button", { class: ui.tab === kind ? "tab active" : "tab", "data-tab": kind, onclick: () => { ui.tab = kind; ui.openMenu = null; render(); } }, say(word)),
    ),
  );
  const channels = Object.keys(state.channels)
    .filter((c) => state.channels[c]?.kind === ui.tab)
    .sort((a, b) => (state.channels[a]?.name ?? a).localeCompare(state.channels[b]?.name ?? b));
  byId("channels").replaceChildren(...channels.map((c) => rosterCard(state, c)));
  byId("side").replaceChildren(...[settingsPanel(state), lingeringPanel(state), historyPanel(state)].filter((p): p is HTMLElement => p !== null));
  if (ui.logAgent) renderLogAgentResults();
  // Drawing waits for the next frame; tests and embedders read here which actor is shown.
  document.body.dataset.actor = ui.actor;
}

function header(): void {
  const select = byId<HTMLSelectElement>("act-as");
  select.replaceChildren(...tokens.map((tk) => h("option", { value: tk.actor, selected: tk.actor === ui.actor }, `${tk.name} (${tk.roles.join(", ") || tk.actor})`)));
  select.onchange = () => {
    const chosen = tokens.find((tk) => tk.actor === select.value);
    if (!chosen) return;
    ui.actor = chosen.actor;
    ui.openMenu = null;
    api.useToken(chosen.token);
    render();
  };
  const lang = byId<HTMLSelectElement>("lang");
  lang.value = ui.lang;
  lang.onchange = () => {
    ui.lang = lang.value === "de" ? "de" : "en";
    localStorage.setItem("lang", ui.lang);
    if (ui.logAgent) renderLogAgent();
    render();
  };
}

async function main(): Promise<void> {
  await init();
  const demo = await (await fetch("/demo/tokens")).json();
  tokens = (demo.tokens as DemoToken[]).filter((tk) => tk.actor !== "system");
  const start = tokens.find((tk) => tk.actor === ui.actor) ?? tokens[0];
  if (!start) throw new Error("the demo has no users");
  ui.actor = start.actor;
  api = new Api(demo.tenant, start.token, () => ui.lang);
  mirror = await Mirror.load(api);
  header();
  api.follow(
    mirror.seq,
    (seq, event) => {
      if (mirror.apply(seq, event)) {
        render();
        if (ui.history?.user && "user" in event && event.user === ui.history.user) void showHistory(ui.history.user);
      }
    },
    (live) => {
      const status = byId("live");
      status.textContent = live ? say("live") : say("offline");
      status.className = live ? "live on" : "live off";
    },
  );
  draw();
  document.body.dataset.ready = "true";
  // Wrap-up timers count down between events.
  window.setInterval(() => {
    for (const timer of document.querySelectorAll<HTMLElement>(".countdown")) {
      const left = Number(timer.dataset.until) - Date.now();
      timer.textContent = countdown(left);
      if (left <= 0) render();
    }
  }, 500);
}

main().catch((error: unknown) => {
  byId("toast").replaceChildren(h("div", { class: "toast error" }, `The dashboard could not start: ${String(error)}`));
});
