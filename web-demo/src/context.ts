// What every panel shares: the API, the mirrored tenant, the module's vocabulary, the
// user's choices (language, tab, filters, open menu), and how to send a command and say
// how it went.

import { Tenant, type Action, type AgentState, type ChannelKind, type Event, type Rejection, type Verdict, type Vocabulary } from "agentstate";
import type { Api } from "./api.js";
import { byId, h } from "./dom.js";
import { t, type Lang, type Word } from "./i18n.js";
import type { Mirror } from "./mirror.js";
import { sentences, type Names } from "./sentences.js";

export type SortBy = "name" | "state" | "duration";
export type Screen = "supervisor" | "agent" | "admin";

export const ui = {
  lang: (localStorage.getItem("lang") === "de" ? "de" : "en") as Lang,
  tab: "queue" as ChannelKind,
  actor: "",
  screen: "supervisor" as Screen,
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

/** Users and channels by name, for sentences. */
export function names(): Names {
  const config = ctx.mirror.config();
  return { user: (id) => config.users[id]?.name ?? id, channel: (id) => config.channels[id]?.name ?? id };
}

/** What the module says `action` would give now, as the acting user. */
export function verdictOf(action: Action): Verdict {
  const outcome = ctx.mirror.tenant.decide({ ...action, actor: ui.actor, at: ctx.mirror.now() });
  return outcome.outcome === "accepted" ? { allowed: true } : { allowed: false, rejection: outcome.rejection };
}

/** Sends a command as the acting user and says what happened, in a sentence. */
export async function act(action: Action, local: Verdict | undefined): Promise<void> {
  await actAll([action], local ? [local] : undefined);
}

/** Sends commands at once (one request, decided in turn) and says what happened. */
export async function actAll(actions: Action[], local?: Verdict[]): Promise<Event[]> {
  const posted = await ctx.api.commands(actions);
  const error = posted.find((p) => p.error)?.error;
  if (error) {
    toast(error.message.endsWith(".") ? error.message : `${error.message}.`, "error");
    return [];
  }
  const events = posted.flatMap((p) => p.events ?? []);
  const rejected = posted.filter((p) => p.outcome !== "accepted").map((p) => p.rejection?.message ?? "");
  const differs = local?.some((v, i) => v.allowed !== (posted[i]?.outcome === "accepted"));
  if (differs) {
    toast(`${say("serverDiffers")}: ${[...rejected, sentences(events, names(), ui.lang)].filter(Boolean).join(" ")}`, "warn");
  } else if (events.length) {
    toast([sentences(events, names(), ui.lang), ...rejected].filter(Boolean).join(" "), rejected.length ? "warn" : "ok");
  } else {
    toast(rejected.join(" "), "error");
  }
  return events;
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
