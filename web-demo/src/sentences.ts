// What happened, as a person reads it: one sentence per event in the page's language
// ("Jürgen Müller is signed out of Billing."), never an event name.

import type { Event } from "agentstate";
import type { Lang } from "./i18n.js";
import { t, type Word } from "./i18n.js";

/** Names as the tenant knows them (ids when it does not, e.g. for what was just created). */
export interface Names {
  user: (id: string) => string;
  channel: (id: string) => string;
}

/**
 * Sight events (a person or channel coming into or going out of the reader's sight) are
 * only in projected feeds and say nothing of their own; every other event has a sentence.
 * (`Exclude` compiles whether or not the module's `Event` has them yet.)
 */
type Said = Exclude<Event["type"], "user_seen" | "user_unseen" | "channel_seen" | "channel_unseen">;
type Templates = { [K in Said]: (e: Extract<Event, { type: K }>, n: Names) => string };

const en: Templates = {
  plan_set: (e) => `The plan is now ${e.plan.replace("_", " ")}.`,
  setting_changed: (e) => `“${t("en", e.setting as Word)}” is now ${e.value ? "on" : "off"}.`,
  pause_reasons_set: (e) =>
    e.reasons.length ? `The pause reasons are now: ${e.reasons.join(", ")}.` : "Any pause reason is allowed now.",
  user_created: (e) => `${e.name} was created.`,
  roles_set: (e, n) => `${n.user(e.user)} now has the roles: ${e.roles.length ? e.roles.join(", ") : "none"}.`,
  channel_created: (e) => `The ${e.kind} ${e.name} was created.`,
  assigned: (e, n) => `${n.user(e.user)} is assigned to ${n.channel(e.channel)} as ${e.as}.`,
  unassigned: (e, n) => `${n.user(e.user)} is no longer assigned to ${n.channel(e.channel)}.`,
  signed_in: (e, n) => `${n.user(e.user)} is signed in to ${n.channel(e.channel)}.`,
  signed_out: (e, n) => `${n.user(e.user)} is signed out of ${n.channel(e.channel)}.`,
  paused: (e, n) => `${n.user(e.user)} is paused on ${n.channel(e.channel)} (${e.reason}).`,
  resumed: (e, n) => `${n.user(e.user)} is ready on ${n.channel(e.channel)}.`,
  wrap_up_ended: (e, n) => `${n.user(e.user)}'s wrap-up on ${n.channel(e.channel)} has ended.`,
  monitoring_started: (e, n) => `${n.user(e.supervisor)} monitors ${n.user(e.user)} (${t("en", e.mode)}).`,
  monitoring_mode_changed: (e, n) =>
    `${n.user(e.supervisor)} now monitors ${n.user(e.user)} by ${t("en", e.mode).toLowerCase()}.`,
  monitoring_stopped: (e, n) => `${n.user(e.supervisor)} stopped monitoring ${n.user(e.user)}.`,
  interaction_started: (e, n) => `${n.user(e.user)} took an interaction on ${n.channel(e.channel)}.`,
  interaction_ended: (e, n) => `${n.user(e.user)}'s interaction on ${n.channel(e.channel)} has ended.`,
  device_registered: (e, n) => `${n.user(e.user)}'s device ${e.label || e.device} was registered.`,
  device_activity: (e, n) => `${n.user(e.user)}'s device ${e.device} is now ${e.active ? "active" : "inactive"}.`,
};

const de: Templates = {
  plan_set: (e) => `Der Tarif ist jetzt ${e.plan.replace("_", " ")}.`,
  setting_changed: (e) => `„${t("de", e.setting as Word)}“ ist jetzt ${e.value ? "an" : "aus"}.`,
  pause_reasons_set: (e) =>
    e.reasons.length ? `Die Pausengründe sind jetzt: ${e.reasons.join(", ")}.` : "Jetzt ist jeder Pausengrund erlaubt.",
  user_created: (e) => `${e.name} wurde angelegt.`,
  roles_set: (e, n) => `${n.user(e.user)} hat jetzt die Rollen: ${e.roles.length ? e.roles.join(", ") : "keine"}.`,
  channel_created: (e) =>
    `${{ queue: "Die Warteschleife", chat: "Der Chat", campaign: "Die Kampagne" }[e.kind]} ${e.name} wurde angelegt.`,
  assigned: (e, n) =>
    `${n.user(e.user)} ist ${n.channel(e.channel)} als ${e.as === "agent" ? "Berater" : "Supervisor"} zugewiesen.`,
  unassigned: (e, n) => `${n.user(e.user)} ist ${n.channel(e.channel)} nicht mehr zugewiesen.`,
  signed_in: (e, n) => `${n.user(e.user)} ist bei ${n.channel(e.channel)} angemeldet.`,
  signed_out: (e, n) => `${n.user(e.user)} ist von ${n.channel(e.channel)} abgemeldet.`,
  paused: (e, n) => `${n.user(e.user)} pausiert bei ${n.channel(e.channel)} (${e.reason}).`,
  resumed: (e, n) => `${n.user(e.user)} ist bei ${n.channel(e.channel)} bereit.`,
  wrap_up_ended: (e, n) => `Die Bearbeitungszeit von ${n.user(e.user)} bei ${n.channel(e.channel)} ist beendet.`,
  monitoring_started: (e, n) => `${n.user(e.supervisor)} überwacht ${n.user(e.user)} (${t("de", e.mode)}).`,
  monitoring_mode_changed: (e, n) =>
    `${n.user(e.supervisor)} überwacht ${n.user(e.user)} jetzt so: ${t("de", e.mode)}.`,
  monitoring_stopped: (e, n) => `${n.user(e.supervisor)} überwacht ${n.user(e.user)} nicht mehr.`,
  interaction_started: (e, n) => `${n.user(e.user)} hat eine Interaktion bei ${n.channel(e.channel)} begonnen.`,
  interaction_ended: (e, n) => `Die Interaktion von ${n.user(e.user)} bei ${n.channel(e.channel)} ist beendet.`,
  device_registered: (e, n) => `Das Gerät ${e.label || e.device} von ${n.user(e.user)} wurde registriert.`,
  device_activity: (e, n) => `Das Gerät ${e.device} von ${n.user(e.user)} ist jetzt ${e.active ? "aktiv" : "inaktiv"}.`,
};

export function sentence(event: Event, names: Names, lang: Lang): string {
  // Each template takes its own kind of event; the union is narrowed by `type`.
  const templates = (lang === "de" ? de : en) as Partial<Record<string, (e: Event, n: Names) => string>>;
  return templates[event.type]?.(event, names) ?? "";
}

/** A few events as sentences; many as the first two and how many more. */
export function sentences(events: Event[], names: Names, lang: Lang): string {
  const told = events.filter((e) => sentence(e, names, lang));
  const said = told.slice(0, told.length > 3 ? 2 : 3).map((e) => sentence(e, names, lang));
  const more = told.length - said.length;
  if (more > 0) said.push(lang === "de" ? `Dazu ${more} weitere Änderungen.` : `And ${more} more changes.`);
  return said.join(" ");
}
