// "+ Log agent": find anyone of the tenant by name (accents and case ignored, by the
// module), see their devices, and sign them in to the channel.

import type { Role } from "agentstate";
import { actionButton, ctx, say, ui } from "./context.js";
import { byId, h } from "./dom.js";

interface Picker {
  channel: string;
  text: string;
  roles: Role[];
  expanded: Set<string>;
}

let picker: Picker | null = null;

export function openLogAgent(channel: string): void {
  picker = { channel, text: "", roles: [], expanded: new Set() };
  const dialog = byId<HTMLDialogElement>("log-agent");
  renderLogAgent();
  if (!dialog.open) dialog.showModal();
  dialog.querySelector<HTMLInputElement>("input[type=search]")?.focus();
}

export function renderLogAgentResults(): void {
  const list = document.getElementById("log-agent-results");
  if (!picker || !list) return;
  const { channel, expanded } = picker;
  const channelName = ctx.mirror.config().channels[channel]?.name ?? channel;
  const matches = ctx.mirror.tenant.searchUsers(picker.text, picker.roles);
  list.replaceChildren(
    ...matches.map((m) => {
      const verdict = ctx.mirror.tenant.allowedActions(ui.actor, m.user, channel, ctx.mirror.now()).sign_in;
      const open = expanded.has(m.user);
      return h(
        "li",
        { "data-match": m.user },
        h("button", { class: "expand", "aria-expanded": open ? "true" : "false", "aria-label": `${say("devices")}: ${m.name}`, onclick: () => { open ? expanded.delete(m.user) : expanded.add(m.user); renderLogAgentResults(); } }, open ? "▾" : "▸"),
        h("strong", {}, m.name),
        h("span", { class: "muted" }, ` ${m.roles.length ? m.roles.map((r) => say(`role_${r}`)).join(", ") : say("noRoles")}`),
        actionButton(`${say("signInTo")} ${channelName}`, verdict, { type: "sign_in", user: m.user, channel }, "sign_in"),
        open
          ? h(
              "ul",
              { class: "devices" },
              m.devices.length === 0 ? h("li", { class: "muted" }, say("noDevice")) : null,
              m.devices.map((d) =>
                h("li", { "data-device": d.device, class: d.active ? "active" : "" }, h("span", { class: d.active ? "dot" : "dot off", role: "img", "aria-label": d.active ? "active" : "inactive" }), ` ${d.label || d.device} (${d.kind})`),
              ),
            )
          : null,
      );
    }),
  );
}

export function renderLogAgent(): void {
  const dialog = byId<HTMLDialogElement>("log-agent");
  if (!picker) return;
  const current = picker;
  dialog.replaceChildren(
    h("h2", { id: "log-agent-title" }, `${say("logAgent")} — ${ctx.mirror.config().channels[current.channel]?.name ?? current.channel}`),
    h("input", {
      type: "search",
      placeholder: say("search"),
      "aria-label": say("search"),
      value: current.text,
      oninput: (e: Event) => {
        current.text = (e.target as HTMLInputElement).value;
        renderLogAgentResults();
      },
    }),
    h(
      "fieldset",
      { class: "roles" },
      h("legend", {}, say("roles")),
      ctx.vocabulary.roles.map((role) =>
        h(
          "label",
          {},
          h("input", {
            type: "checkbox",
            "data-role": role,
            checked: current.roles.includes(role),
            onchange: (e: Event) => {
              current.roles = (e.target as HTMLInputElement).checked ? [...current.roles, role] : current.roles.filter((r) => r !== role);
              renderLogAgentResults();
            },
          }),
          ` ${say(`role_${role}`)} `,
        ),
      ),
    ),
    h("ul", { id: "log-agent-results", class: "matches" }),
    h("button", { class: "close", onclick: () => { picker = null; dialog.close(); } }, say("close")),
  );
  dialog.setAttribute("aria-labelledby", "log-agent-title");
  renderLogAgentResults();
}

export function logAgentOpen(): boolean {
  return picker !== null;
}
