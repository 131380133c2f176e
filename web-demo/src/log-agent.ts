// "+ Log agent": find any agent by name (accents and case ignored), see their devices, and
// sign them in to the channel. The server searches (the source article: "search for any
// agent" — also those out of the supervisor's sight, whom the mirror does not hold); the
// mirror answers at once until it has.

import type { Role } from "agentstate";
import { act, actionButton, ctx, say, toast, ui } from "./context.js";
import { byId, h } from "./dom.js";
import { send } from "./update.js";

/** Asks the server for the open picker's `text` and `roles` (each as given, else as they were); the mirror answers meanwhile. */
function search(change: { text?: string; roles?: Role[] }): void {
  send({ kind: "log_agent_asked", ...change });
  const current = ui.logAgent;
  if (!current) return;
  const asked = current.asked;
  ctx.api.searchUsers(current.text, current.roles).then(
    (matches) => {
      if (ui.logAgent !== current) return;
      send({ kind: "log_agent_found", asked, matches });
      renderLogAgentResults();
    },
    (error: unknown) => toast(String(error), "error"),
  );
  renderLogAgentResults();
}

export function openLogAgent(channel: string): void {
  send({ kind: "log_agent", channel });
  search({});
  const dialog = byId<HTMLDialogElement>("log-agent");
  renderLogAgent();
  if (!dialog.open) dialog.showModal();
  dialog.querySelector<HTMLInputElement>("input[type=search]")?.focus();
}

export function renderLogAgentResults(): void {
  const list = document.getElementById("log-agent-results");
  if (!ui.logAgent || !list) return;
  const { channel, expanded } = ui.logAgent;
  const channelName = ctx.mirror.config().channels[channel]?.name ?? channel;
  const matches = ui.logAgent.matches ?? ctx.mirror.tenant.searchUsers(ui.logAgent.text, ui.logAgent.roles);
  const users = ctx.mirror.config().users;
  list.replaceChildren(
    ...matches.map((m) => {
      const label = `${say("signInTo")} ${channelName}`;
      const action = { type: "sign_in", user: m.user, channel } as const;
      // Someone out of sight is not in the mirror: the server decides, and the toast says.
      const signIn = users[m.user]
        ? actionButton(
            label,
            ctx.mirror.tenant.allowedActions(ui.actor, m.user, channel, ctx.mirror.now()).sign_in,
            action,
            "sign_in",
          )
        : h("button", { class: "action", "data-action": "sign_in", onclick: () => void act(action, undefined) }, label);
      const open = expanded.has(m.user);
      return h(
        "li",
        { "data-match": m.user },
        h(
          "button",
          {
            class: "expand",
            "aria-expanded": open ? "true" : "false",
            "aria-label": `${say("devices")}: ${m.name}`,
            onclick: () => {
              send({ kind: "log_agent_expanded", user: m.user });
              renderLogAgentResults();
            },
          },
          open ? "▾" : "▸",
        ),
        h("strong", {}, m.name),
        h(
          "span",
          { class: "muted" },
          ` ${m.roles.length ? m.roles.map((r) => say(`role_${r}`)).join(", ") : say("noRoles")}`,
        ),
        signIn,
        open
          ? h(
              "ul",
              { class: "devices" },
              m.devices.length === 0 ? h("li", { class: "muted" }, say("noDevice")) : null,
              m.devices.map((d) =>
                h(
                  "li",
                  { "data-device": d.device, class: d.active ? "active" : "" },
                  h("span", {
                    class: d.active ? "dot" : "dot off",
                    role: "img",
                    "aria-label": d.active ? "active" : "inactive",
                  }),
                  ` ${d.label || d.device} (${d.kind})`,
                ),
              ),
            )
          : null,
      );
    }),
  );
}

export function renderLogAgent(): void {
  const dialog = byId<HTMLDialogElement>("log-agent");
  if (!ui.logAgent) return;
  const current = ui.logAgent;
  dialog.replaceChildren(
    h(
      "h2",
      { id: "log-agent-title" },
      `${say("logAgent")} — ${ctx.mirror.config().channels[current.channel]?.name ?? current.channel}`,
    ),
    h("input", {
      type: "search",
      placeholder: say("search"),
      "aria-label": say("search"),
      value: current.text,
      oninput: (e: Event) => search({ text: (e.target as HTMLInputElement).value }),
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
            onchange: (e: Event) =>
              search({
                roles: (e.target as HTMLInputElement).checked
                  ? [...current.roles, role]
                  : current.roles.filter((r) => r !== role),
              }),
          }),
          ` ${say(`role_${role}`)} `,
        ),
      ),
    ),
    h("ul", { id: "log-agent-results", class: "matches" }),
    h(
      "button",
      {
        class: "close",
        onclick: () => {
          send({ kind: "log_agent", channel: null });
          dialog.close();
        },
      },
      say("close"),
    ),
  );
  dialog.setAttribute("aria-labelledby", "log-agent-title");
  renderLogAgentResults();
}

export function logAgentOpen(): boolean {
  return ui.logAgent !== null;
}
