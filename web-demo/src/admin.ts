// The admin's configuration: assignments (many users to many channels at once), roles,
// new users and channels, the pause reasons (add, remove, order), the plan and the
// settings — the configuration commands of §4.3, each enabled by the module's verdict.

import type { Action, AssignAs, ChannelKind, Plan, Rejection, Role, Verdict } from "agentstate";
import { actAll, ctx, reason, say, verdictOf, redraw, ui } from "./context.js";
import { h, type Child } from "./dom.js";
import type { Word } from "./i18n.js";

const form = {
  search: "",
  users: new Set<string>(),
  channels: new Set<string>(),
  as: "agent" as AssignAs,
  newUser: { id: "", name: "", roles: new Set<Role>(["agent"]) },
  newChannel: { id: "", name: "", kind: "queue" as ChannelKind, wrapUp: 30 },
  newReason: "",
  plan: "" as Plan | "",
};

/** One verdict for several commands: allowed when any of them is (the others are refused and say why). */
function anyAllowed(actions: Action[]): Verdict {
  if (!actions.length) return { allowed: false };
  const verdicts = actions.map(verdictOf);
  return verdicts.find((v) => v.allowed) ?? verdicts[0] ?? { allowed: false };
}

function button(label: string, verdict: Verdict, actions: () => Action[], key: string): HTMLButtonElement {
  return h(
    "button",
    {
      "data-admin-action": key,
      disabled: !verdict.allowed,
      title: verdict.allowed ? label : reason(verdict.rejection as Rejection | undefined),
      onclick: () => void actAll(actions()),
    },
    label,
  );
}

function field(label: string, input: HTMLElement): HTMLElement {
  return h("label", { class: "field" }, h("span", {}, label), input);
}

function assignments(): HTMLElement {
  const config = ctx.mirror.config();
  const matches = ctx.mirror.tenant.searchUsers(form.search, []).slice(0, 30);
  const channels = Object.keys(config.channels).sort((a, b) =>
    (config.channels[a]?.name ?? a).localeCompare(config.channels[b]?.name ?? b),
  );
  const pairs = (make: (user: string, channel: string) => Action): Action[] =>
    [...form.users].flatMap((user) => [...form.channels].map((channel) => make(user, channel)));
  const assign = pairs((user, channel) => ({ type: "assign", user, channel, as: form.as }));
  const unassign = pairs((user, channel) => ({ type: "unassign", user, channel }));
  /** A checkbox that adds `key` to `set` or takes it out; `data` names it for tests. */
  const pick = (set: Set<string>, key: string, data: string, ...label: Child[]) =>
    h(
      "label",
      { class: "pick" },
      h("input", {
        type: "checkbox",
        [data]: key,
        checked: set.has(key),
        onchange: (e: globalThis.Event) => {
          (e.target as HTMLInputElement).checked ? set.add(key) : set.delete(key);
          redraw.panels();
        },
      }),
      ...label,
    );
  return h(
    "section",
    { class: "panel", id: "admin-assignments", "aria-labelledby": "assignments-title" },
    h("h3", { id: "assignments-title" }, say("assignments")),
    h("input", {
      type: "search",
      id: "admin-search",
      placeholder: say("search"),
      "aria-label": say("search"),
      value: form.search,
      oninput: (e: globalThis.Event) => {
        form.search = (e.target as HTMLInputElement).value;
        redraw.panels();
      },
    }),
    h(
      "div",
      { class: "pick-columns" },
      h(
        "fieldset",
        {},
        h("legend", {}, say("users")),
        matches.map((m) =>
          pick(
            form.users,
            m.user,
            "data-admin-user",
            ` ${m.name} `,
            h("span", { class: "muted" }, m.roles.map((r) => say(`role_${r}`)).join(", ")),
          ),
        ),
      ),
      h(
        "fieldset",
        {},
        h("legend", {}, say("channels")),
        channels.map((c) => pick(form.channels, c, "data-admin-channel", ` ${config.channels[c]?.name ?? c}`)),
      ),
    ),
    h(
      "div",
      { class: "row" },
      field(
        say("assignAs"),
        h(
          "select",
          {
            id: "admin-as",
            onchange: (e: globalThis.Event) => {
              form.as = (e.target as HTMLSelectElement).value as AssignAs;
              redraw.panels();
            },
          },
          (["agent", "supervisor"] as const).map((as) =>
            h("option", { value: as, selected: form.as === as }, say(as === "agent" ? "agent" : "asSupervisor")),
          ),
        ),
      ),
      button(`${say("assign")} (${assign.length})`, anyAllowed(assign), () => assign, "assign"),
      button(`${say("unassign")} (${unassign.length})`, anyAllowed(unassign), () => unassign, "unassign"),
    ),
    form.users.size === 1 ? roles([...form.users][0] ?? "") : null,
  );
}

function roles(user: string): HTMLElement {
  const current = new Set(ctx.mirror.config().users[user]?.roles ?? []);
  const chosen = (): Role[] =>
    ctx.vocabulary.roles.filter(
      (r) => document.querySelector<HTMLInputElement>(`input[data-admin-role="${r}"]`)?.checked ?? current.has(r),
    );
  return h(
    "div",
    { class: "row", id: "admin-roles" },
    h("span", {}, `${say("roles")}: `),
    ctx.vocabulary.roles.map((r) =>
      h(
        "label",
        {},
        h("input", { type: "checkbox", "data-admin-role": r, checked: current.has(r) }),
        ` ${say(`role_${r}`)} `,
      ),
    ),
    button(
      say("setRoles"),
      verdictOf({ type: "set_roles", user, roles: [...current] }),
      () => [{ type: "set_roles", user, roles: chosen() }],
      "set_roles",
    ),
  );
}

function creation(): HTMLElement {
  const { newUser, newChannel } = form;
  const user: Action = { type: "create_user", user: newUser.id, name: newUser.name, roles: [...newUser.roles] };
  const channel: Action = {
    type: "create_channel",
    channel: newChannel.id,
    kind: newChannel.kind,
    name: newChannel.name,
    wrap_up_secs: newChannel.wrapUp,
  };
  const text = (value: string, set: (v: string) => void, id: string, label: string) =>
    field(
      label,
      h("input", {
        type: "text",
        id,
        value,
        oninput: (e: globalThis.Event) => {
          set((e.target as HTMLInputElement).value);
          redraw.panels();
        },
      }),
    );
  const filled = (action: Action, ready: boolean): Verdict => (ready ? verdictOf(action) : { allowed: false });
  return h(
    "section",
    { class: "panel", id: "admin-create", "aria-labelledby": "create-title" },
    h("h3", { id: "create-title" }, say("createNew")),
    h(
      "div",
      { class: "row" },
      text(newUser.id, (v) => (newUser.id = v), "new-user-id", say("userId")),
      text(newUser.name, (v) => (newUser.name = v), "new-user-name", say("name")),
      ctx.vocabulary.roles.map((r) =>
        h(
          "label",
          {},
          h("input", {
            type: "checkbox",
            checked: newUser.roles.has(r),
            onchange: (e: globalThis.Event) => {
              (e.target as HTMLInputElement).checked ? newUser.roles.add(r) : newUser.roles.delete(r);
              redraw.panels();
            },
          }),
          ` ${say(`role_${r}`)} `,
        ),
      ),
      button(say("createUser"), filled(user, newUser.id !== "" && newUser.name !== ""), () => [user], "create_user"),
    ),
    h(
      "div",
      { class: "row" },
      text(newChannel.id, (v) => (newChannel.id = v), "new-channel-id", say("channelId")),
      text(newChannel.name, (v) => (newChannel.name = v), "new-channel-name", say("name")),
      field(
        say("kind"),
        h(
          "select",
          {
            onchange: (e: globalThis.Event) => {
              newChannel.kind = (e.target as HTMLSelectElement).value as ChannelKind;
              redraw.panels();
            },
          },
          ctx.vocabulary.channel_kinds.map((k) => h("option", { value: k, selected: k === newChannel.kind }, say(k))),
        ),
      ),
      field(
        say("wrapUpSecs"),
        h("input", {
          type: "number",
          id: "new-channel-wrap",
          min: 0,
          value: newChannel.wrapUp,
          oninput: (e: globalThis.Event) => {
            newChannel.wrapUp = Number((e.target as HTMLInputElement).value);
            redraw.panels();
          },
        }),
      ),
      button(
        say("createChannel"),
        filled(channel, newChannel.id !== "" && newChannel.name !== ""),
        () => [channel],
        "create_channel",
      ),
    ),
  );
}

function pauseReasons(): HTMLElement {
  const current = ctx.mirror.config().pause_reasons;
  const set = (reasons: string[]): Action => ({ type: "set_pause_reasons", reasons });
  const moved = (i: number, by: number) => {
    const next = current.slice();
    const [item] = next.splice(i, 1);
    if (item !== undefined) next.splice(i + by, 0, item);
    return next;
  };
  const added = set([...current, form.newReason.trim()]);
  return h(
    "section",
    { class: "panel", id: "admin-pause-reasons", "aria-labelledby": "reasons-title" },
    h("h3", { id: "reasons-title" }, say("pauseReasons")),
    current.length === 0 ? h("p", { class: "muted" }, say("anyReason")) : null,
    h(
      "ol",
      {},
      current.map((r, i) =>
        h(
          "li",
          { "data-reason": r },
          `${r} `,
          button("↑", i > 0 ? verdictOf(set(moved(i, -1))) : { allowed: false }, () => [set(moved(i, -1))], `up:${r}`),
          button(
            "↓",
            i < current.length - 1 ? verdictOf(set(moved(i, 1))) : { allowed: false },
            () => [set(moved(i, 1))],
            `down:${r}`,
          ),
          button(
            `${say("remove")} ${r}`,
            verdictOf(set(current.filter((x) => x !== r))),
            () => [set(current.filter((x) => x !== r))],
            `remove:${r}`,
          ),
        ),
      ),
    ),
    h(
      "div",
      { class: "row" },
      field(
        say("newReason"),
        h("input", {
          type: "text",
          id: "new-reason",
          value: form.newReason,
          oninput: (e: globalThis.Event) => {
            form.newReason = (e.target as HTMLInputElement).value;
            redraw.panels();
          },
        }),
      ),
      button(
        say("add"),
        form.newReason.trim() ? verdictOf(added) : { allowed: false },
        () => {
          form.newReason = "";
          return [added];
        },
        "add_reason",
      ),
    ),
  );
}

function planAndSettings(): HTMLElement {
  const config = ctx.mirror.config();
  const plan = form.plan || config.plan;
  return h(
    "section",
    { class: "panel", id: "admin-tenant", "aria-labelledby": "tenant-title" },
    h("h3", { id: "tenant-title" }, say("tenant")),
    h(
      "div",
      { class: "row" },
      field(
        say("plan"),
        h(
          "select",
          {
            id: "admin-plan",
            onchange: (e: globalThis.Event) => {
              form.plan = (e.target as HTMLSelectElement).value as Plan;
              redraw.panels();
            },
          },
          ctx.vocabulary.plans.map((p) => h("option", { value: p, selected: p === plan }, p.replace("_", " "))),
        ),
      ),
      button(say("setPlan"), verdictOf({ type: "set_plan", plan }), () => [{ type: "set_plan", plan }], "set_plan"),
    ),
    ctx.vocabulary.settings.map(([setting, initially]) => {
      const on = config.settings[setting] ?? initially;
      const change: Action = { type: "set_setting", setting, value: !on };
      const verdict = verdictOf(change);
      return h(
        "label",
        { class: "setting" },
        h("input", {
          type: "checkbox",
          "data-admin-setting": setting,
          checked: on,
          disabled: !verdict.allowed,
          title: verdict.allowed ? "" : reason(verdict.rejection as Rejection | undefined),
          onchange: () => void actAll([change]),
        }),
        ` ${say(setting as Word)}`,
      );
    }),
  );
}

/** Single sign-on as the operator set it up: shown, not changed here (the secret never comes). */
function singleSignOn(): HTMLElement {
  // Read once, when the screen is first drawn.
  if (ui.sso === null) {
    ui.sso = "loading";
    ctx.api.ssoSettings().then(
      (settings) => {
        ui.sso = settings;
        redraw.panels();
      },
      () => {
        ui.sso = "unreadable";
        redraw.panels();
      },
    );
  }
  const sso = ui.sso;
  const rows: [Word, string | null | undefined][] =
    typeof sso === "object" && sso.configured
      ? [
          ["ssoPage", sso.sign_in_page ? `${location.origin}${sso.sign_in_page}` : undefined],
          ["ssoIssuer", sso.name ? `${sso.name} — ${sso.issuer ?? ""}` : sso.issuer],
          ["ssoClient", sso.client_id],
          ["ssoClaim", sso.claim],
          ["ssoRedirect", sso.redirect_uri],
        ]
      : [];
  return h(
    "section",
    { class: "panel", id: "admin-sso", "aria-labelledby": "sso-title" },
    h("h3", { id: "sso-title" }, say("sso")),
    rows.length
      ? h(
          "dl",
          { class: "sso" },
          rows.flatMap(([word, value]) => [h("dt", {}, say(word)), h("dd", { "data-sso": word }, value ?? "")]),
        )
      : h("p", {}, sso === "loading" ? "…" : say("ssoOff")),
  );
}

export function adminScreen(): HTMLElement {
  return h(
    "div",
    { id: "admin-screen-content" },
    h("h2", { class: "screen-title" }, say("configuration")),
    assignments(),
    pauseReasons(),
    creation(),
    planAndSettings(),
    singleSignOn(),
  );
}
