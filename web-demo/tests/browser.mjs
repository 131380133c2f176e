// The dashboard in headless Debian Chromium, against a real `agentstate serve`:
// unassigned sign-ins persist and are reviewed, "End wrap-up" waits for the admin,
// "+ Log agent" finds Müller by "muller" and shows his active device.
//
//   node tests/browser.mjs   (AGENTSTATE_BIN, CHROMIUM and SCREENSHOT_DIR may override)

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const bin = process.env.AGENTSTATE_BIN ?? join(root, "target/debug/agentstate");
const screenshots = process.env.SCREENSHOT_DIR ?? join(root, "target/browser");
const data = mkdtempSync(join(tmpdir(), "agentstate-browser-"));
mkdirSync(screenshots, { recursive: true });

function startServer() {
  const server = spawn(
    bin,
    ["serve", "--addr", "127.0.0.1:0", "--data", data, "--web", join(root, "web-demo/dist"), "--pkg", join(root, "wasm/pkg")],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const address = new Promise((found, failed) => {
    let seen = "";
    server.stdout.on("data", (chunk) => {
      seen += chunk;
      const match = /serving (http:\/\/\S+)\//.exec(seen);
      if (match) found(match[1]);
    });
    server.on("exit", (code) => failed(new Error(`the server exited (${code}) before serving`)));
  });
  return { server, address };
}

const { server, address } = startServer();
let browser;
let failed = false;
try {
  const base = await address;
  const demo = JSON.parse(readFileSync(join(data, "demo-tokens.json"), "utf8"));
  const token = (actor) => demo.tokens.find((t) => t.actor === actor).token;
  const post = async (actor, command) => {
    const response = await fetch(`${base}/api/tenants/demo/commands`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token(actor)}`, "Content-Type": "application/json" },
      body: JSON.stringify(command),
    });
    const body = await response.json();
    assert.equal(body.outcome, "accepted", `${JSON.stringify(command)} → ${JSON.stringify(body)}`);
  };

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const problems = [];
  page.on("pageerror", (e) => problems.push(String(e)));
  await page.goto(base);
  await page.waitForSelector("body[data-ready=true]");
  await page.waitForSelector("#live.on");

  // Every action must be confirmed by the server, never "the server's verdict differs".
  const expectOk = async (action) => {
    await page.evaluate(() => document.getElementById("toast").replaceChildren());
    await action();
    const toast = page.locator("#toast .toast");
    await toast.waitFor();
    assert.equal(await toast.getAttribute("data-kind"), "ok", await toast.textContent());
  };
  // The dashboard draws on the next animation frame and folds events as the feed delivers
  // them: wait for what should be shown instead of reading it once.
  const actAs = async (actor) => {
    await page.selectOption("#act-as", actor);
    await page.locator(`body[data-actor=${actor}]`).waitFor();
  };
  const until = async (locator, what) => {
    try {
      await locator.waitFor({ timeout: 10_000 });
    } catch {
      assert.fail(`${what} (still not so after 10 s)`);
    }
  };
  const row = (channel, user) => page.locator(`section[data-channel=${channel}] tr[data-user=${user}]`);

  // As the supervisor, "+ Log agent" on Billing: "muller" finds Jürgen Müller, his
  // active device has the green dot, and he is signed into a queue he is not assigned to.
  await actAs("sam");
  await page.click("button[data-log-agent=billing]");
  await page.fill("#log-agent input[type=search]", "muller");
  const match = page.locator("li[data-match=mueller]");
  await match.waitFor();
  assert.match(await match.textContent(), /Jürgen Müller/);
  assert.equal(await page.locator("#log-agent li[data-match]").count(), 1, "only Müller matches");
  await match.locator("button.expand").click();
  await match.locator("li[data-device=mueller-softphone].active .dot").waitFor();
  assert.equal(await match.locator("li[data-device=mueller-desk] .dot.off").count(), 1, "the desk phone is not active");
  await page.screenshot({ path: join(screenshots, "log-agent.png") });
  await expectOk(() => match.locator("button[data-action=sign_in]").click());
  await page.click("#log-agent button.close");
  await row("billing", "mueller").locator("[data-flag=unassigned]").waitFor();

  // The admin turns unassigned sign-in off: Müller stays signed in, now flagged.
  await actAs("ada");
  await expectOk(() => page.uncheck("input[data-setting=unassigned_sign_in]"));
  await page.locator("li[data-lingering='billing/mueller'] .badge.flag").waitFor();
  // An agent may not sign everyone out: the bulk button says why, before anyone clicks.
  await actAs("zoe");
  await until(page.locator("#bulk-sign-out:disabled"), "an agent cannot sign everyone out");
  assert.match(await page.locator("#bulk-sign-out").getAttribute("title"), /sign_out_unassigned/);
  await actAs("ada");
  assert.equal(await row("billing", "mueller").locator(".badge.in").count(), 1, "still signed in");
  assert.equal(await row("billing", "mueller").locator("[data-flag=unassigned]").count(), 1, "still flagged");
  await page.screenshot({ path: join(screenshots, "lingering.png") });

  // The supervisor reviews and signs out every unassigned sign-in at once.
  await actAs("sam");
  await expectOk(() => page.click("#bulk-sign-out"));
  await page.locator("li[data-lingering='billing/mueller']").waitFor({ state: "detached" });
  await row("billing", "mueller").waitFor({ state: "detached" });

  // The routing system gives Zoë a call on Sales; when it ends she is in wrap-up.
  await post("system", { type: "interaction_started", user: "zoe", channel: "sales", interaction: "browser-call-1" });
  await post("system", { type: "interaction_ended", interaction: "browser-call-1" });
  await row("sales", "zoe").locator(".badge.wrap .countdown").waitFor();
  await page.click("button[data-open-menu='sales/zoe']");
  const endWrapUp = page.locator("[data-menu='sales/zoe'] button[data-action=end_wrap_up]");
  await until(page.locator("[data-menu='sales/zoe'] button[data-action=end_wrap_up]:disabled"), "disabled until an admin enables it");
  assert.match(await endWrapUp.getAttribute("title"), /wrap-up/i);
  assert.match(await endWrapUp.getAttribute("title"), /enabled/i);
  await page.screenshot({ path: join(screenshots, "wrap-up-disabled.png") });

  await actAs("ada");
  await expectOk(() => page.check("input[data-setting=supervisor_wrap_up_end]"));
  await actAs("sam");
  await page.click("button[data-open-menu='sales/zoe']");
  await until(page.locator("[data-menu='sales/zoe'] button[data-action=end_wrap_up]:enabled"), "enabled once the admin allowed it");
  await expectOk(() => endWrapUp.click());
  await row("sales", "zoe").locator(".badge.wrap").waitFor({ state: "detached" });

  // German: the same reasons, in German.
  await page.selectOption("#lang", "de");
  await page.locator("nav .tab.active", { hasText: "Warteschlangen" }).waitFor();
  await page.screenshot({ path: join(screenshots, "dashboard.png"), fullPage: true });
  assert.deepEqual(problems, [], "no errors in the page");
  console.log(`browser test passed; screenshots in ${screenshots}`);
} catch (error) {
  failed = true;
  console.error(error);
} finally {
  await browser?.close();
  server.kill("SIGTERM");
  await new Promise((done) => server.on("exit", done));
  rmSync(data, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
