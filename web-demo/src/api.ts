// The server's API: commands, the snapshot to mirror from, history, reports, the session,
// and the live feed. A signed-in dashboard is authenticated by its HttpOnly session cookie
// (the browser adds it; page script never sees a secret). The demo's "act as" sends a
// bearer token instead. The feed is read with fetch and resumes from the last sequence
// number it saw.

import type { Action, ActivityReport, Event, Role, State } from "agentstate";
import type { components } from "./generated/http.js";

// The HTTP types are generated from the server's OpenAPI document (`docs/openapi.json`,
// itself generated from the Rust types the server serializes); see `cargo xtask dashboard`.
type Schemas = components["schemas"];

/** Both descriptions of a type — the module's (tsify) and the API's (OpenAPI) — come from
 * one Rust type: what the server sends must be what the module takes (the module's may be
 * looser where serde fills in defaults). This does not compile when they drift apart. */
type Fits<A, B> = [A] extends [B] ? true : false;
const agree: [
  Fits<Schemas["Event"], Event>,
  Fits<Schemas["State"], State>,
  Fits<Schemas["ActivityReport"], ActivityReport>,
] = [true, true, true];
void agree;

/** The server's answer to one command: its outcome, or the request's error. */
export type Posted = Partial<Schemas["Presented"]> & Partial<Schemas["ErrorBody"]>;

/** Who the dashboard is: the session's (or the demo token's) tenant and actor. */
export type Me = Schemas["Me"];

/** One of the caller's assigned channels with its counts per state, no names (`GET …/channel-counts`). */
export type ChannelCounts = Schemas["ChannelCount"];

/** The tenant's single sign-on as its admin sees it (never the client secret). */
export type SsoSettings = Schemas["SsoSettings"];

/** What a tenant's sign-in page offers (`GET /api/signin/{tenant}`). */
export type SsoOffer = Schemas["SsoOffer"];

/** The session cookie, or a bearer token (the demo's "act as" only). */
export type Auth = { kind: "session" } | { kind: "bearer"; token: string };

export class Api {
  constructor(
    readonly tenant: string,
    private auth: Auth,
    private lang: () => string,
  ) {}

  /** The same API with another user's token (the demo's "act as"): the view open now keeps its own until the other opens. */
  as(token: string): Api {
    return new Api(this.tenant, { kind: "bearer", token }, this.lang);
  }

  get signedIn(): boolean {
    return this.auth.kind === "session";
  }

  private headers(): Record<string, string> {
    const headers: Record<string, string> = { "Accept-Language": this.lang() };
    if (this.auth.kind === "bearer") headers.Authorization = `Bearer ${this.auth.token}`;
    return headers;
  }

  private url(path: string): string {
    return `/api/tenants/${encodeURIComponent(this.tenant)}${path}`;
  }

  private async read<T>(path: string, what: string): Promise<T> {
    const response = await fetch(this.url(path), { headers: this.headers() });
    if (!response.ok) throw new Error(`${what}: HTTP ${response.status}`);
    return response.json() as Promise<T>;
  }

  /** The tenant's single sign-on settings (admins only). */
  ssoSettings(): Promise<SsoSettings> {
    return this.read<SsoSettings>("/sso", "single sign-on");
  }

  /** What `tenant`'s sign-in page offers; `null` when it has no single sign-on. */
  static async ssoOffer(tenant: string): Promise<SsoOffer | null> {
    const response = await fetch(`/api/signin/${encodeURIComponent(tenant)}`);
    return response.ok ? ((await response.json()) as SsoOffer) : null;
  }

  /** The signed-in session's tenant and actor; `null` when there is no session. */
  static async session(): Promise<Me | null> {
    const response = await fetch("/api/me");
    return response.ok ? ((await response.json()) as Me) : null;
  }

  /** Ends the session on the server. */
  static async signOut(): Promise<void> {
    await fetch("/api/session", { method: "DELETE" });
  }

  /** Sends commands in one request (decided in turn); one answer per command. */
  async commands(actions: Action[]): Promise<Posted[]> {
    const response = await fetch(this.url("/commands"), {
      method: "POST",
      headers: { ...this.headers(), "Content-Type": "application/json" },
      body: JSON.stringify(actions.map((action) => ({ id: crypto.randomUUID(), ...action }))),
    });
    const body = (await response.json()) as Schemas["CommandsAnswer"] | Schemas["ErrorBody"];
    if ("error" in body) return [body];
    return "results" in body ? body.results : [body];
  }

  snapshot(): Promise<Schemas["SnapshotAnswer"]> {
    return this.read("/snapshot", "snapshot");
  }

  /** The caller's assigned channels with their counts per state. */
  channelCounts(): Promise<ChannelCounts[]> {
    return this.read("/channel-counts", "channel counts");
  }

  /** The "+ Log agent" search: anyone the caller may search for, also beyond what they see. */
  searchUsers(text: string, roles: Role[]): Promise<Schemas["UserMatch"][]> {
    const query = new URLSearchParams({ search: text });
    if (roles.length) query.set("roles", roles.join(","));
    return this.read(`/users?${query.toString()}`, "search");
  }

  /** A page of the events that touched `user`, newest first (`before`: the previous page's `next_before`). */
  history(user: string, before?: number): Promise<Schemas["HistoryAnswer"]> {
    const page = before === undefined ? "" : `?before=${before}`;
    return this.read(`/users/${encodeURIComponent(user)}/history${page}`, "history");
  }

  activity(from: number, to: number): Promise<ActivityReport> {
    return this.read(`/reports/activity?from=${from}&to=${to}`, "activity report");
  }

  async activityCsv(from: number, to: number): Promise<Blob> {
    const response = await fetch(this.url(`/reports/activity?from=${from}&to=${to}&format=csv`), {
      headers: this.headers(),
    });
    if (!response.ok) throw new Error(`activity CSV: HTTP ${response.status}`);
    return response.blob();
  }

  /**
   * Follows the log after `after`; returns a function that stops following. Events that
   * share a sequence number (an `events` message) come in the same batch; the caller's team
   * counts come as they change (`counts`).
   */
  follow(
    after: number,
    onEvents: (events: [number, Event][]) => void,
    onLive: (live: boolean) => void,
    onSnapshot: (seq: number, state: State) => void,
    onCounts: (channels: ChannelCounts[]) => void,
  ): () => void {
    let stopped = false;
    let cursor = after;
    let controller = new AbortController();
    const run = async (): Promise<void> => {
      while (!stopped) {
        try {
          const response = await fetch(this.url(`/events?after=${cursor}`), {
            headers: this.headers(),
            signal: controller.signal,
          });
          if (!response.ok || !response.body) throw new Error(`events: HTTP ${response.status}`);
          onLive(true);
          const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
          let buffer = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buffer += value;
            // Everything complete in this chunk is handed over at once: one fold, one redraw.
            const batch: [number, Event][] = [];
            let end: number;
            while ((end = buffer.indexOf("\n\n")) >= 0) {
              const block = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              let id: number | undefined;
              let kind = "message";
              const data: string[] = [];
              for (const line of block.split("\n")) {
                if (line.startsWith("id:")) id = Number(line.slice(3).trim());
                else if (line.startsWith("event:")) kind = line.slice(6).trim();
                else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
              }
              // The team's counts (no id: they are no place in the log), at most once a second.
              if (kind === "counts" && data.length) {
                onCounts(JSON.parse(data.join("\n")) as ChannelCounts[]);
                continue;
              }
              if (id === undefined || !data.length) continue;
              cursor = id;
              // `event`: one event. `events`: several under one sequence number, folded
              // together (what the caller may see of one change). Any other kind is not ours.
              if (kind === "snapshot") {
                // Not where the log stands (new, behind, or on another host): the mirror
                // starts anew from what the caller sees, and follows on from there.
                if (batch.length) onEvents(batch.splice(0));
                const snapshot = JSON.parse(data.join("\n")) as { seq: number; state: State };
                onSnapshot(snapshot.seq, snapshot.state);
              } else if (kind === "events")
                for (const event of JSON.parse(data.join("\n")) as Event[]) batch.push([id, event]);
              else if (kind === "event" || kind === "message") batch.push([id, JSON.parse(data.join("\n")) as Event]);
            }
            if (batch.length) onEvents(batch);
          }
        } catch {
          if (stopped) return;
        }
        onLive(false);
        await new Promise((resume) => setTimeout(resume, 1000));
      }
    };
    void run();
    return () => {
      stopped = true;
      controller.abort();
      controller = new AbortController();
    };
  }
}
