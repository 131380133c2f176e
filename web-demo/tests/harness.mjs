// What the browser test and the large-tenant benchmark share: an `agentstate serve` of
// their own on a free port, headless Debian Chromium, and cleaning both up.

import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Starts `bin serve` with `args` (plus a free loopback port and the built dashboard). */
export async function serve(bin, args, env = process.env) {
  const server = spawn(
    bin,
    ["serve", "--addr", "127.0.0.1:0", "--web", join(root, "web-demo/dist"), "--pkg", join(root, "wasm/pkg"), ...args],
    { stdio: ["ignore", "pipe", "inherit"], env },
  );
  const exited = new Promise((done) => server.on("exit", done));
  const base = await new Promise((found, failed) => {
    let seen = "";
    server.stdout.on("data", (chunk) => {
      seen += chunk;
      const match = /serving (http:\/\/\S+)\//.exec(seen);
      if (match) found(match[1]);
    });
    server.on("exit", (code) => failed(new Error(`the server exited (${code}) before serving`)));
  });
  return {
    base,
    /** Stops it gracefully (SIGTERM) and waits until it has. */
    stop: async () => {
      server.kill("SIGTERM");
      await exited;
    },
  };
}

export function launchChromium(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      ...extraArgs,
    ],
  });
}

/**
 * Runs `test` with a way to launch Chromium, then — whatever happened — closes what it
 * launched, stops `server` and removes the `data` folder; exits non-zero when `test` threw.
 */
export async function runAndClean(server, data, test) {
  const browsers = [];
  const launch = async (extraArgs) => {
    const browser = await launchChromium(extraArgs);
    browsers.push(browser);
    return browser;
  };
  let failed = false;
  try {
    await test(launch);
  } catch (error) {
    failed = true;
    console.error(error);
  } finally {
    for (const browser of browsers) await browser.close();
    await server.stop();
    rmSync(data, { recursive: true, force: true });
  }
  process.exit(failed ? 1 : 0);
}

const axeSource = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

/** Serious and critical accessibility violations axe-core finds on the page as it is. */
export async function accessibilityProblems(page) {
  if (!(await page.evaluate(() => "axe" in window))) await page.addScriptTag({ path: axeSource });
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map(
      (v) =>
        `${v.id} (${v.impact}): ${v.nodes
          .map((n) => n.target.join(" "))
          .slice(0, 3)
          .join(", ")}`,
    );
}
