// The tenant as the browser holds it: the server's snapshot restored into the wasm module,
// then every event of the live feed folded in. Views and allowed actions are computed
// here, by the same rules the server validates with.

import { Tenant, type Event, type State } from "agentstate";
import type { Api } from "./api.js";

/**
 * The module's Tenant journals every event it folds (for its own `history`); the dashboard
 * asks the server for history, so after this many events the mirror starts over from its
 * own state and a dashboard left open all day does not grow with the log.
 */
const REBASE_EVERY = 5_000;

export class Mirror {
  private sinceBase = 0;

  private constructor(
    private current: Tenant,
    public seq: number,
    private clock: number,
  ) {}

  /** The tenant as folded so far (a new object after each re-base: do not keep it). */
  get tenant(): Tenant {
    return this.current;
  }

  static async load(api: Api): Promise<Mirror> {
    const { seq, state } = await api.snapshot();
    return new Mirror(Tenant.fromSnapshot(state), seq, state.clock ?? 0);
  }

  /** Folds the event numbered `seq`; events already folded are skipped. */
  apply(seq: number, event: Event): boolean {
    if (seq <= this.seq) return false;
    this.current.applyEvents([event]);
    this.seq = seq;
    this.clock = Math.max(this.clock, event.at);
    if (++this.sinceBase >= REBASE_EVERY) {
      const fresh = Tenant.fromSnapshot(this.current.snapshot());
      this.current.free();
      this.current = fresh;
      this.sinceBase = 0;
    }
    return true;
  }

  /** Now, never behind the last event (the rules refuse time going backwards). */
  now(): number {
    return Math.max(Date.now(), this.clock);
  }

  /** The state as plain objects, converted once per event folded (every render reads it). */
  state(): State {
    if (!this.cached || this.cached.seq !== this.seq) {
      this.cached = { seq: this.seq, state: this.tenant.snapshot() };
    }
    return this.cached.state;
  }

  private cached: { seq: number; state: State } | undefined;
}
