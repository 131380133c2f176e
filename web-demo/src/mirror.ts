// The tenant as the browser holds it: the server's snapshot restored into the wasm module,
// then every event of the live feed folded in. Views and allowed actions are computed
// here, by the same rules the server validates with.

import { Tenant, type Event, type State } from "agentstate";
import type { Api } from "./api.js";

/**
 * What a projected feed sends when a person or channel comes into sight, changes as a
 * whole, or goes out of it: anything shown may have changed.
 */
export const SIGHT: ReadonlySet<string> = new Set(["user_seen", "user_unseen", "channel_seen", "channel_unseen"]);

/**
 * The module's Tenant journals every event it folds (for its own `history`); the dashboard
 * asks the server for history, so after this many events the mirror starts over from its
 * own state and a dashboard left open all day does not grow with the log.
 */
const REBASE_EVERY = 5_000;

/**
 * Whether each event changes the configuration: users, channels, assignments, settings —
 * and, in a feed projected for its caller, a person or channel coming into or going out of
 * sight. Every event type is listed: a new one does not compile until it is placed here.
 */
const CONFIGURES: Record<Event["type"], boolean> = {
  plan_set: true,
  setting_changed: true,
  pause_reasons_set: true,
  user_created: true,
  roles_set: true,
  channel_created: true,
  assigned: true,
  unassigned: true,
  user_seen: true,
  user_unseen: true,
  channel_seen: true,
  channel_unseen: true,
  signed_in: false,
  signed_out: false,
  paused: false,
  resumed: false,
  wrap_up_ended: false,
  monitoring_started: false,
  monitoring_mode_changed: false,
  monitoring_stopped: false,
  interaction_started: false,
  interaction_ended: false,
  device_registered: false,
  device_activity: false,
};

export class Mirror {
  private sinceBase = 0;
  private configured: State;

  private constructor(
    private current: Tenant,
    public seq: number,
    private clock: number,
    state: State,
  ) {
    this.configured = state;
  }

  /** The tenant as folded so far (a new object after each re-base: do not keep it). */
  get tenant(): Tenant {
    return this.current;
  }

  static async load(api: Api): Promise<Mirror> {
    const { seq, state } = await api.snapshot();
    return Mirror.of(seq, state);
  }

  /** A mirror of what the caller sees as of `seq` (a snapshot, or the feed's `snapshot` message). */
  static of(seq: number, state: State): Mirror {
    return new Mirror(Tenant.fromSnapshot(state), seq, state.clock ?? 0, state);
  }

  /** Folds the events not folded yet; returns those it folded. */
  apply(batch: [number, Event][]): Event[] {
    const fresh = batch.filter(([seq]) => seq > this.seq).map(([, event]) => event);
    const last = batch.at(-1);
    if (!fresh.length || !last) return [];
    this.current.applyEvents(fresh);
    this.seq = last[0];
    for (const event of fresh) if (typeof event.at === "number") this.clock = Math.max(this.clock, event.at);
    if (fresh.some((event) => CONFIGURES[event.type])) this.configured = this.current.snapshot();
    this.sinceBase += fresh.length;
    if (this.sinceBase >= REBASE_EVERY) {
      const rebased = Tenant.fromSnapshot(this.current.snapshot());
      this.current.free();
      this.current = rebased;
      this.sinceBase = 0;
    }
    return fresh;
  }

  /** Frees the module's memory; the mirror is not used again. */
  free(): void {
    this.current.free();
  }

  /** Now, never behind the last event (the rules refuse time going backwards). */
  now(): number {
    return Math.max(Date.now(), this.clock);
  }

  /**
   * The configuration — users, channels, assignments, settings, pause reasons — as plain
   * objects, converted again only when an event changes it. Its sign-ins, pauses and
   * interactions are stale: ask the views for those.
   */
  config(): State {
    return this.configured;
  }

  /**
   * The pause reasons to offer: the tenant's, or — when it configured none, which allows
   * any reason — one, "break".
   */
  pauseReasons(): string[] {
    const configured = this.configured.pause_reasons;
    return configured.length ? configured : ["break"];
  }
}
