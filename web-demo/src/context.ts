// What every panel shares: the API, the mirrored tenant, the module's vocabulary, the
// user's choices (language, tab, filters, open menu), and how to send a command and say
// how it went.

import { Tenant, type Action, type AgentState, type ChannelKind, type Rejection, type Verdict, type Vocabulary } from "agentstate";
import type { Api } from "./api.js";
import { byId, h } from "./dom.js";
import { t, type Lang, type Word } from "./i18n.js";
import type { Mirror } from "./mirror.js";

export type SortBy = "name" | "state" | "duration";

export const ui = {
  lang: (localStorage.getItem("lang") === "de" ? "de" : "en") as Lang,
  tab: "queue" as ChannelKind,
  actor: "",
  openMenu: null as string | null,
  filter: { text: "", state: "" as AgentState | "", sort: "name" as SortBy },
};

export const ctx = {} as {
  api: Api;
  mirror: Mirror;
  vocabulary: Vocabulary;
  /** Redraws on the next frame; `channels` limits it to those cards. */
  render: (channels?: Iterable<string>) => void;
};

export function say(word: Word): string {
  return t(ui.lang, word);
}

export function reason(rejection: Rejection | undefined): string {
  return rejection ? Tenant.message(rejection, ui.lang) : "";
}

export function toast(text: string, kind: "ok" | "error" | "warn"): void {
  const box = byId("toast");
  box.replaceChildren(h("div", { class: `toast ${kind}`, role: "status", "data-kind": kind }, text));
  window.setTimeout(() => box.firstChild?.remove(), 6000);
}

/** Sends a command as the acting user and reports the server's verdict. */
export async function act(action: Action, local: Verdict | undefined): Promise<void> {
  const posted = await ctx.api.command(action);
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

/** A button that sends `action` when the module allows it, and says why not when not. */
export function actionButton(label: string, verdict: Verdict | undefined, action: Action, name: string, after?: () => void): HTMLButtonElement {
  const allowed = verdict?.allowed ?? false;
  return h(
    "button",
    {
      class: "action",
      role: "menuitem",
      "data-action": name,
      disabled: !allowed,
      "aria-disabled": !allowed ? "true" : undefined,
      title: allowed ? label : reason(verdict?.rejection as Rejection | undefined),
      onclick: () => {
        after?.();
        void act(action, verdict);
      },
    },
    label,
  );
}

/** The name of a user of the tenant. */
export function nameOf(user: string): string {
  return ctx.mirror.config().users[user]?.name ?? user;
}
