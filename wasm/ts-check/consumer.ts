// A small dashboard-side consumer of the package: it must type-check (`tsc --noEmit`),
// and the lines marked @ts-expect-error must be errors — the types catch real mistakes.
import { Tenant, type Command, type Outcome, type Rejection, type RosterEntry, type Verdict } from "../pkg/agentstate.js";

export function signIn(tenant: Tenant, supervisor: string, user: string, channel: string, at: number): Outcome {
  const command: Command = { type: "sign_in", actor: supervisor, at, user, channel };
  return tenant.apply(command);
}

export function explain(outcome: Outcome, lang: "en" | "de"): string {
  if (outcome.outcome === "accepted") {
    return outcome.events.map((e) => `${e.type} by ${e.by} at ${e.at}`).join(", ");
  }
  const rejection: Rejection = outcome.rejection;
  if (rejection.code === "not_authorized") {
    return `${rejection.actor} needs ${rejection.needs}`;
  }
  return outcome.rejection.message[lang];
}

export function buttons(tenant: Tenant, supervisor: string, agent: string, channel: string, now: number): string[] {
  const actions = tenant.allowedActions(supervisor, agent, channel, now);
  const enabled = (v: Verdict | undefined) => v?.allowed ?? false;
  const labels: string[] = [];
  if (enabled(actions.sign_out)) labels.push("Sign out");
  if (enabled(actions.pause)) labels.push("Pause");
  if (enabled(actions.end_wrap_up)) labels.push("End wrap-up");
  for (const mode of ["listen", "whisper", "barge"] as const) {
    if (actions.monitor[mode].allowed) labels.push(`Monitor (${mode})`);
  }
  return labels;
}

export function lingering(tenant: Tenant, channel: string, now: number): RosterEntry[] {
  return (tenant.roster(channel, now)?.entries ?? []).filter((e) => e.unassigned_sign_in && e.signed_in !== null);
}

export function searchAgents(tenant: Tenant, text: string): string[] {
  return tenant.searchUsers(text, ["agent"]).map((m) => `${m.name}${m.active_device ? " ●" : ""}`);
}

export function mistakes(tenant: Tenant): void {
  // @ts-expect-error: `pause` needs a reason
  tenant.apply({ type: "pause", actor: "ana", at: 1, user: "ana" });
  // @ts-expect-error: there is no command "dance"
  tenant.apply({ type: "dance", actor: "ana", at: 1 });
  // @ts-expect-error: a monitor mode is listen, whisper or barge
  tenant.apply({ type: "monitor", actor: "sam", at: 1, user: "ana", mode: "shout" });
  // @ts-expect-error: roles are agent, supervisor or admin
  tenant.searchUsers("", ["boss"]);
}
