// The admin's configuration: assignments (many users to many channels at once), roles,
// new users and channels, the pause reasons (add, remove, order), the plan and the
// settings — the configuration commands of §4.3, each enabled by the module's verdict.

import type { Action, AssignAs, ChannelKind, Plan, Rejection, Role, Verdict } from "agentstate";
import { actAll, ctx, reason, say, verdictOf, ui } from "./context.js";
import { h, type Child } from "./dom.js";
import type { Word } from "./i18n.js";
import { send } from "./update.js";

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
  const { form } = ui;
  const config = ctx.mirror.config();
  const matches = ctx.mirror.tenant.searchUsers(form.search, []).slice(0, 30);
  const channels = Object.keys(config.channels).sort((a, b) =>
    (config.channels[a]?.name ?? a).localeCompare(config.channels[b]?.name ?? b),
  );
  const pairs = (make: (user: string, channel: string) => Action): Action[] =>
    [...form.users].flatMap((user) => [...form.channels].map((channel) => make(user, channel)));
  const assign = pairs((user, channel) => ({ type: "assign", user, channel, as: form.as }));
  const unassign = pairs((user, channel) => ({ type: "unassign", user, channel }));
  /** A checkbox that adds `key` to the form's `list` or takes it out; `data` names it for tests. */
  const pick = (list: "users" | "channels", key: string, data: string, ...label: Child[]) =>
    h(
      "label",
      { class: "pick" },
      h("input", {
        type: "checkbox",
        [data]: key,
        checked: form[list].has(key),
        onchange: (e: globalThis.Event) =>
          send({ kind: "form_pick", list, key, on: (e.target as HTMLInputElement).checked }),
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
      oninput: (e: globalThis.Event) => send({ kind: "form", set: { search: (e.target as HTMLInputElement).value } }),
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
            "users",
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
        channels.map((c) => pick("channels", c, "data-admin-channel", ` ${config.channels[c]?.name ?? c}`)),
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
            onchange: (e: globalThis.Event) =>
              send({ kind: "form", set: { as: (e.target as HTMLSelectElement).value as AssignAs } }),
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
  const current: readonly Role[] = ctx.mirror.config().users[user]?.roles ?? [];
  // The roles as the admin ticked them, until then as the tenant has them.
  const ticked = ui.form.roleTicks?.user === user ? ui.form.roleTicks.roles : new Set<string>(current);
  const chosen = (): Role[] => ctx.vocabulary.roles.filter((r) => ticked.has(r));
  return h(
    "div",
    { class: "row", id: "admin-roles" },
    h("span", {}, `${say("roles")}: `),
    ctx.vocabulary.roles.map((r) =>
      h(
        "label",
        {},
        h("input", {
          type: "checkbox",
          "data-admin-role": r,
          checked: ticked.has(r),
          onchange: (e: globalThis.Event) =>
            send({ kind: "role_ticked", user, current, role: r, on: (e.target as HTMLInputElement).checked }),
        }),
        ` ${say(`role_${r}`)} `,
      ),
    ),
    button(
      say("setRoles"),
      verdictOf({ type: "set_roles", user, roles: chosen() }),
      () => [{ type: "set_roles", user, roles: chosen() }],
      "set_roles",
    ),
  );
}

function creation(): HTMLElement {
  const { form } = ui;
  const roles = ctx.vocabulary.roles.filter((r) => form.userRoles.has(r));
  const user: Action = { type: "create_user", user: form.userId, name: form.userName, roles };
  const channel: Action = {
    type: "create_channel",
    channel: form.channelId,
    kind: form.channelKind,
    name: form.channelName,
    wrap_up_secs: form.wrapUp,
  };
  const text = (name: "userId" | "userName" | "channelId" | "channelName", id: string, label: string) =>
    field(
      label,
      h("input", {
        type: "text",
        id,
        value: form[name],
        oninput: (e: globalThis.Event) => send({ kind: "form", set: { [name]: (e.target as HTMLInputElement).value } }),
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
      text("userId", "new-user-id", say("userId")),
      text("userName", "new-user-name", say("name")),
      ctx.vocabulary.roles.map((r) =>
        h(
          "label",
          {},
          h("input", {
            type: "checkbox",
            checked: form.userRoles.has(r),
            onchange: (e: globalThis.Event) =>
              send({ kind: "form_pick", list: "userRoles", key: r, on: (e.target as HTMLInputElement).checked }),
          }),
          ` ${say(`role_${r}`)} `,
        ),
      ),
      button(say("createUser"), filled(user, form.userId !== "" && form.userName !== ""), () => [user], "create_user"),
    ),
    h(
      "div",
      { class: "row" },
      text("channelId", "new-channel-id", say("channelId")),
      text("channelName", "new-channel-name", say("name")),
      field(
        say("kind"),
        h(
          "select",
          {
            onchange: (e: globalThis.Event) =>
              send({ kind: "form", set: { channelKind: (e.target as HTMLSelectElement).value as ChannelKind } }),
          },
          ctx.vocabulary.channel_kinds.map((k) => h("option", { value: k, selected: k === form.channelKind }, say(k))),
        ),
      ),
      field(
        say("wrapUpSecs"),
        h("input", {
          type: "number",
          id: "new-channel-wrap",
          min: 0,
          value: form.wrapUp,
          oninput: (e: globalThis.Event) =>
            send({ kind: "form", set: { wrapUp: Number((e.target as HTMLInputElement).value) } }),
        }),
      ),
      button(
        say("createChannel"),
        filled(channel, form.channelId !== "" && form.channelName !== ""),
        () => [channel],
        "create_channel",
      ),
    ),
  );
}

function pauseReasons(): HTMLElement {
  const { form } = ui;
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
          oninput: (e: globalThis.Event) =>
            send({ kind: "form", set: { newReason: (e.target as HTMLInputElement).value } }),
        }),
      ),
      button(
        say("add"),
        form.newReason.trim() ? verdictOf(added) : { allowed: false },
        () => {
          send({ kind: "form", set: { newReason: "" } });
          return [added];
        },
        "add_reason",
      ),
    ),
  );
}

function planAndSettings(): HTMLElement {
  const config = ctx.mirror.config();
  const plan = ui.form.plan || config.plan;
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
            onchange: (e: globalThis.Event) =>
              send({ kind: "form", set: { plan: (e.target as HTMLSelectElement).value as Plan } }),
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

/** Asks the server for the tenant's single sign-on, once per view (when Configuration opens). */
export function askSsoSettings(): void {
  if (ui.sso !== null) return;
  const view = ui.view;
  send({ kind: "sso", view, sso: "loading" });
  ctx.api.ssoSettings().then(
    (sso) => send({ kind: "sso", view, sso }),
    () => send({ kind: "sso", view, sso: "unreadable" }),
  );
}

/** Single sign-on as the operator set it up: shown, not changed here (the secret never comes). */
function singleSignOn(): HTMLElement {
  const sso = ui.sso ?? "loading";
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
