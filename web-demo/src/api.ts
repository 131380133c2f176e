// The server's API: commands, the snapshot to mirror from, history, and the live feed.
// The feed is read with fetch (EventSource cannot send an Authorization header) and
// resumes from the last sequence number it saw.

import type { Event, State } from "agentstate";

export interface Posted {
  status: number;
  body: {
    outcome?: "accepted" | "rejected";
    events?: Event[];
    rejection?: { code: string; message: string };
    error?: { code: string; message: string };
    seq?: number;
  };
}

export class Api {
  constructor(
    readonly tenant: string,
    private token: string,
    private lang: () => string,
  ) {}

  useToken(token: string): void {
    this.token = token;
  }

  private headers(): HeadersInit {
    return { Authorization: `Bearer ${this.token}`, "Accept-Language": this.lang() };
  }

  private url(path: string): string {
    return `/api/tenants/${encodeURIComponent(this.tenant)}${path}`;
  }

  async command(command: Record<string, unknown>): Promise<Posted> {
    const response = await fetch(this.url("/commands"), {
      method: "POST",
      headers: { ...this.headers(), "Content-Type": "application/json" },
      body: JSON.stringify({ id: crypto.randomUUID(), ...command }),
    });
    return { status: response.status, body: await response.json() };
  }

  async snapshot(): Promise<{ seq: number; state: State }> {
    const response = await fetch(this.url("/snapshot"), { headers: this.headers() });
    if (!response.ok) throw new Error(`snapshot: HTTP ${response.status}`);
    return response.json();
  }

  async history(user: string): Promise<Event[]> {
    const response = await fetch(this.url(`/users/${encodeURIComponent(user)}/history`), { headers: this.headers() });
    if (!response.ok) throw new Error(`history: HTTP ${response.status}`);
    return response.json();
  }

  /** Follows the log after `after`; returns a function that stops following. */
  follow(after: number, onEvent: (seq: number, event: Event) => void, onLive: (live: boolean) => void): () => void {
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
            let end: number;
            while ((end = buffer.indexOf("\n\n")) >= 0) {
              const block = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              let id: number | undefined;
              let data = "";
              for (const line of block.split("\n")) {
                if (line.startsWith("id:")) id = Number(line.slice(3).trim());
                else if (line.startsWith("data:")) data += line.slice(5).trimStart();
              }
              if (id !== undefined && data) {
                cursor = id;
                onEvent(id, JSON.parse(data) as Event);
              }
            }
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
