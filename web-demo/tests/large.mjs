// A large contact center in headless Chromium — a benchmark, not a test: it prints what
// it measures and asserts only that the page works. A tenant of AGENTS agents on CHANNELS
// channels (two channels each, plus one channel of 1,000), all signed in; its supervisor
// opens the dashboard through a sign-in link. Measured:
//   - time to first roster (navigation start to the first card drawn),
//   - the main thread's longest task while the feed brings RATE events/s for SECONDS s,
//   - frame times while the 1,000-row roster scrolls,
//   - the day at a glance (Tenant.activity) over a generated day of events, in events/s.
//
//   node tests/large.mjs   (AGENTSTATE_BIN — the release build is best —, CHROMIUM,
//                           AGENTS, CHANNELS, RATE, SECONDS may override)

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { root, runAndClean, serve } from "./harness.mjs";

const bin = process.env.AGENTSTATE_BIN ?? join(root, "target/release/agentstate");
const AGENTS = Number(process.env.AGENTS ?? 5000);
const CHANNELS = Number(process.env.CHANNELS ?? 200);
const RATE = Number(process.env.RATE ?? 200);
const SECONDS = Number(process.env.SECONDS ?? 10);
const BIG = 1000;
const data = mkdtempSync(join(tmpdir(), "agentstate-large-"));

function tenantYaml() {
  const kinds = ["queue", "chat", "campaign"];
  const lines = [
    "plan: complete",
    "pause_reasons: [lunch, training, meeting]",
    "settings: { supervisors_limited_to_assigned: false }",
    "users:",
  ];
  lines.push("  - { id: sup, name: Sue Supervisor, roles: [supervisor] }");
  for (let i = 0; i < AGENTS; i++)
    lines.push(`  - { id: a${i}, name: Agent ${String(i).padStart(4, "0")}, roles: [agent] }`);
  lines.push("channels:");
  const members = Array.from({ length: CHANNELS }, () => []);
  for (let i = 0; i < AGENTS; i++) {
    members[i % CHANNELS].push(`a${i}`);
    members[(i * 7 + 3) % CHANNELS].push(`a${i}`);
  }
  for (let c = 0; c < CHANNELS; c++) {
    const agents =
      c === 0 ? [...new Set([...members[0], ...Array.from({ length: BIG }, (_, i) => `a${i}`)])] : members[c];
    // The big channel is a queue and first by name, on the first tab.
    const name = c === 0 ? "A big queue" : `Channel ${String(c).padStart(3, "0")}`;
    lines.push(
      `  - { id: c${c}, kind: ${c === 0 ? "queue" : kinds[c % 3]}, name: ${name}, wrap_up_secs: 20, agents: [${[...new Set(agents)].join(", ")}] }`,
    );
  }
  return lines.join("\n");
}

const cli = (...args) =>
  execFileSync(bin, args, {
    env: { ...process.env, AGENTSTATE_DATA: data, RUST_LOG: "warn" },
    encoding: "utf8",
    maxBuffer: 1 << 26,
  }).trim();

const server = await serve(
  bin,
  ["--data", data, "--no-demo-tenant", "--rate-limit", "100000", "--max-body", String(1 << 24)],
  { ...process.env, RUST_LOG: "warn" },
);
const { base } = server;

await runAndClean(server, data, async (launch) => {
  writeFileSync(join(data, "big.yaml"), tenantYaml());
  cli("tenant", "create", "big", join(data, "big.yaml"));
  const token = cli("token", "create", "--tenant", "big", "--user", "sup");
  const link = cli("token", "create", "--tenant", "big", "--user", "sup", "--link", "--url", base);
  const post = async (commands) => {
    const response = await fetch(`${base}/api/tenants/big/commands`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify(commands),
    });
    const text = await response.text();
    assert.equal(response.status, 200, text);
    return JSON.parse(text);
  };
  // Everyone signs in to every channel they are assigned to.
  const everyone = Array.from({ length: AGENTS }, (_, i) => ({ type: "sign_in_assigned", user: `a${i}` }));
  for (let i = 0; i < everyone.length; i += 500) await post(everyone.slice(i, i + 500));

  const browser = await launch(["--enable-blink-features=LongTaskTiming"]);
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.addInitScript(() => {
    window.longTasks = [];
    new PerformanceObserver((list) => window.longTasks.push(...list.getEntries().map((e) => e.duration))).observe({
      type: "longtask",
      buffered: true,
    });
  });
  await page.goto(link);
  await page.waitForURL(`${base}/`);
  await page.waitForSelector("body[data-ready=true]", { timeout: 60_000 });
  await page.locator("section[data-channel=c0] tr[data-user]").first().waitFor();
  const firstRoster = await page.evaluate(() => {
    const card = performance.getEntriesByType("mark").find((m) => m.name === "first-roster");
    return card ? card.startTime : performance.now();
  });
  const cards = await page.locator("section.card").count();
  const rows = await page.locator("section.card tr[data-user]").count();

  // The feed: RATE events per second (pauses and resumes) for SECONDS seconds.
  await page.evaluate(() => (window.longTasks = []));
  const started = Date.now();
  let sent = 0;
  let paused = new Set();
  for (let tick = 0; tick < SECONDS * 10; tick++) {
    const batch = [];
    for (let k = 0; k < RATE / 10; k++) {
      const user = `a${(sent * 37) % AGENTS}`;
      batch.push(paused.has(user) ? { type: "resume", user } : { type: "pause", user, reason: "lunch" });
      paused.has(user) ? paused.delete(user) : paused.add(user);
      sent++;
    }
    await post(batch);
    const wait = started + (tick + 1) * 100 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  await page.waitForTimeout(1000);
  const feed = await page.evaluate(() => ({
    longest: Math.max(0, ...window.longTasks),
    count: window.longTasks.length,
    total: window.longTasks.reduce((a, b) => a + b, 0),
  }));

  // Scrolling the 1,000-row roster: 100 px per frame for 3 s.
  const frames = await page.evaluate(async () => {
    const scroller = document.querySelector("section[data-channel=c0] .rows");
    if (!scroller) return null;
    scroller.scrollIntoView();
    const times = [];
    let last = performance.now();
    const end = last + 3000;
    await new Promise((done) => {
      const step = (now) => {
        times.push(now - last);
        last = now;
        scroller.scrollTop += 100;
        if (scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight) scroller.scrollTop = 0;
        if (now < end) requestAnimationFrame(step);
        else done();
      };
      requestAnimationFrame(step);
    });
    times.sort((a, b) => a - b);
    const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
    return { frames: times.length, p50: at(0.5), p95: at(0.95), max: times[times.length - 1] };
  });
  assert.ok(frames, "the big roster scrolls in a window");

  // The day at a glance in the browser: a generated day of 200 agents, folded by the module.
  const activity = await page.evaluate(async () => {
    const { Tenant } = await import("/pkg/agentstate.js");
    const users = Array.from({ length: 200 }, (_, i) => ({ id: `u${i}`, name: `U ${i}`, roles: ["agent"] }));
    const seed = {
      plan: "complete",
      pause_reasons: ["lunch", "training"],
      users,
      channels: [
        { id: "q", kind: "queue", name: "Q", wrap_up_secs: 30, agents: users.map((u) => u.id) },
        { id: "c", kind: "chat", name: "C", wrap_up_secs: 10, agents: users.map((u) => u.id) },
      ],
    };
    const tenant = Tenant.fromSeed(seed);
    const events = [];
    const day = 8 * 3600 * 1000;
    let n = 0;
    const apply = (command) => {
      const outcome = tenant.apply(command);
      if (outcome.outcome === "accepted") events.push(...outcome.events);
    };
    for (const u of users) apply({ type: "sign_in_assigned", actor: u.id, at: 1000, user: u.id });
    // Rounds of the 200: calls start, calls end (wrap-up follows), pauses, resumes.
    for (let at = 2000; events.length < 200_000 && n < 4_000_000; at += 50, n++) {
      const [u, round] = [n % 200, Math.floor(n / 200)];
      const user = `u${u}`;
      const what = round % 4;
      if (what === 0)
        apply({
          type: "interaction_started",
          actor: "system",
          at,
          user,
          channel: u % 2 ? "q" : "c",
          interaction: `i${round}-${u}`,
        });
      else if (what === 1) apply({ type: "interaction_ended", actor: "system", at, interaction: `i${round - 1}-${u}` });
      else if (what === 2)
        apply({ type: "pause", actor: user, at, user, reason: round % 8 === 2 ? "lunch" : "training" });
      else apply({ type: "resume", actor: user, at, user });
    }
    const to = events.at(-1).at + 1;
    const t0 = performance.now();
    const report = Tenant.activity(events, 0, Math.max(to, day));
    const ms = performance.now() - t0;
    // The same call over a range that ends before the first event: only the events'
    // conversion from JS objects, which the fold above also paid.
    const t1 = performance.now();
    Tenant.activity(events, 0, 1);
    const convertMs = performance.now() - t1;
    return {
      events: events.length,
      ms,
      perSecond: events.length / (ms / 1000),
      convertMs,
      foldPerSecond: events.length / ((ms - convertMs) / 1000),
      rows: report.rows.length,
    };
  });

  console.log(
    JSON.stringify(
      {
        agents: AGENTS,
        channels: CHANNELS,
        cards,
        rowsRendered: rows,
        firstRosterMs: Math.round(firstRoster),
        feed: {
          eventsPerSecond: RATE,
          seconds: SECONDS,
          sent,
          longestTaskMs: Math.round(feed.longest),
          longTasks: feed.count,
          longTaskMsTotal: Math.round(feed.total),
        },
        scroll: frames,
        activityInBrowser: activity,
      },
      null,
      2,
    ),
  );
});
