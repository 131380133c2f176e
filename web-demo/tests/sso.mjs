// Single sign-on with OpenID Connect in headless Debian Chromium, against a real
// `agentstate serve` and two real identity providers (oidc-provider, tests/idp.mjs), one
// per tenant: people sign in at their organisation's IdP and land on the screen their
// roles give, in their own tenant; someone the IdP knows but the tenant does not is
// refused and told to ask their admin; a code or state from another tenant's sign-in, or
// from someone else's browser (login CSRF), or used a second time, signs nobody in.
//
//   node tests/sso.mjs   (AGENTSTATE_BIN, CHROMIUM, SCREENSHOT_DIR, AGENTSTATE_DATABASE_URL
//                         and IDP_HOST may override)

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { accessibilityProblems, root, runAndClean, serve } from "./harness.mjs";
import { startIdp } from "./idp.mjs";

const bin = process.env.AGENTSTATE_BIN ?? join(root, "target/debug/agentstate");
const screenshots = process.env.SCREENSHOT_DIR ?? join(root, "target/browser");
const data = mkdtempSync(join(tmpdir(), "agentstate-sso-"));
mkdirSync(screenshots, { recursive: true });

// The IdPs are at "localhost", the server at 127.0.0.1: another site, as an organisation's
// IdP is. So the way back from the IdP is a cross-site navigation, as in production: a
// SameSite=Strict cookie is not sent on it (nor on the redirect that follows it), which a
// test with everything on 127.0.0.1 would never notice.
const idpHost = process.env.IDP_HOST ?? "localhost";

// The CLI takes each client secret from an environment variable, not from its command
// line (which other users of the machine can read).
const secrets = { NORTH_SECRET: randomBytes(24).toString("hex"), SOUTH_SECRET: randomBytes(24).toString("hex") };

// Ana is a user of both tenants, with the same id on purpose: which tenant she lands in
// must come from where she signed in, never from her name.
const NORTH = `
plan: complete
pause_reasons: [lunch, training]
users:
  - { id: ana, name: Ana Agent, roles: [agent] }
  - { id: sue, name: Sue Supervisor, roles: [supervisor] }
  - { id: ada, name: Ada Admin, roles: [admin] }
channels:
  - { id: support, kind: queue, name: Support, wrap_up_secs: 30, agents: [ana], supervisors: [sue] }
  - { id: sales, kind: queue, name: Sales, wrap_up_secs: 30, agents: [ana], supervisors: [sue] }
`;
const SOUTH = `
plan: complete
pause_reasons: [lunch]
users:
  - { id: ana, name: Ana South, roles: [agent] }
  - { id: sam, name: Sam Supervisor, roles: [supervisor] }
channels:
  - { id: care, kind: queue, name: Care, wrap_up_secs: 30, agents: [ana], supervisors: [sam] }
`;

const server = await serve(bin, ["--data", data]);
await runAndClean(server, data, async (launch) => {
  const { base } = server;
  const cli = (...args) =>
    execFileSync(bin, args, {
      env: { ...process.env, ...secrets, AGENTSTATE_DATA: data, RUST_LOG: "warn" },
      encoding: "utf8",
    }).trim();
  const callback = (tenant) => `${base}/signin/${tenant}/callback`;

  // Each tenant's IdP knows its own people; north's also knows Mallory, who is no user of
  // north (an employee of the organisation without a contact-center account).
  const idps = [];
  try {
    const northIdp = await startIdp({
      host: idpHost,
      accounts: {
        ana: { preferred_username: "ana", email: "ana@north.test", name: "Ana Agent" },
        sue: { preferred_username: "sue", email: "sue@north.test", name: "Sue Supervisor" },
        mallory: { preferred_username: "mallory", email: "mallory@north.test", name: "Mallory" },
      },
      clients: [
        { client_id: "agentstate-north", client_secret: secrets.NORTH_SECRET, redirect_uris: [callback("north")] },
      ],
    });
    idps.push(northIdp);
    const southIdp = await startIdp({
      host: idpHost,
      accounts: {
        ana: { preferred_username: "ana", email: "ana@south.test", name: "Ana South" },
        sam: { preferred_username: "sam", email: "sam@south.test", name: "Sam Supervisor" },
      },
      clients: [
        { client_id: "agentstate-south", client_secret: secrets.SOUTH_SECRET, redirect_uris: [callback("south")] },
      ],
    });
    idps.push(southIdp);

    for (const [tenant, yaml, idp, label] of [
      ["north", NORTH, northIdp, "North Login"],
      ["south", SOUTH, southIdp, "South Login"],
    ]) {
      writeFileSync(join(data, `${tenant}.yaml`), yaml);
      cli("tenant", "create", tenant, join(data, `${tenant}.yaml`));
      // The IdP's `sub` is opaque (idp.mjs): people are matched by the claim named here.
      const settings = {
        "--issuer": idp.issuer,
        "--client-id": `agentstate-${tenant}`,
        "--client-secret-env": `${tenant.toUpperCase()}_SECRET`,
        "--redirect-uri": callback(tenant),
        "--claim": "preferred_username",
        "--name": label,
      };
      cli("tenant", "sso", "set", tenant, ...Object.entries(settings).flat());
    }

    const browser = await launch();
    const problems = [];
    /** A person's own browser: cookies of their own, and no request leaves the machine. */
    const person = async () => {
      const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
      // The IdP's development pages ask Google Fonts for Roboto: not from a test.
      await context.route(
        (url) => !["127.0.0.1", "localhost"].includes(url.hostname),
        (route) => route.abort(),
      );
      const tab = await context.newPage();
      tab.on("pageerror", (e) => problems.push(String(e)));
      // The document the tab shows last came with this response (redirects included).
      let last;
      tab.on("response", (response) => {
        if (response.request().isNavigationRequest() && response.frame() === tab.mainFrame()) last = response;
      });
      return { context, tab, lastDocument: () => last };
    };
    const sessionCookie = async (context) => (await context.cookies(base)).find((c) => c.name === "agentstate_session");
    const refusal = (tab) => tab.locator("main#refusal");

    /**
     * From the tenant's sign-in page, through its IdP's own login page (any password
     * does there), back to the server: on the dashboard, or on a refusal.
     */
    const signInWithSso = async ({ tab }, tenant, login, label) => {
      await tab.goto(`${base}/signin/${tenant}`);
      await tab.waitForSelector("body[data-ready=true]");
      const link = tab.locator("a#sso");
      assert.match(await link.textContent(), label);
      await link.click();
      await tab.locator("input[name=login]").waitFor();
      assert.ok(tab.url().startsWith(`http://${idpHost}:`), `at the IdP's login page: ${tab.url()}`);
      await tab.fill("input[name=login]", login);
      await tab.fill("input[name=password]", "any password");
      await tab.click("button[type=submit]");
      await tab.waitForURL((url) => url.origin === base);
      await tab.locator("main#refusal, body[data-ready=true] #signed-in-as[data-tenant]").first().waitFor();
    };
    /** Who the dashboard says is signed in (a refusal instead fails with its code and words). */
    const signedInAs = async ({ tab }) => {
      if (await refusal(tab).count())
        assert.fail(`refused (${await refusal(tab).getAttribute("data-code")}): ${await refusal(tab).textContent()}`);
      const who = tab.locator("#signed-in-as");
      return { tenant: await who.getAttribute("data-tenant"), actor: await who.getAttribute("data-actor") };
    };

    /**
     * The attacker's way through a sign-in, by hand with the context's cookies (no page):
     * the URL the IdP sends the browser back to, with its code and state, not opened.
     */
    const callbackUrlOf = async (context, tenant, login) => {
      let url = `${base}/signin/${tenant}/start`;
      for (let hop = 0; hop < 10; hop++) {
        let response = await context.request.get(url, { maxRedirects: 0 });
        // The IdP's login form posts back to where it is shown.
        if (response.status() === 200)
          response = await context.request.post(url, {
            form: { prompt: "login", login, password: "any password" },
            maxRedirects: 0,
          });
        const location = response.headers().location;
        assert.ok(location, `${url} answered ${response.status()}, not a redirect`);
        url = new URL(location, url).href;
        if (url.startsWith(`${callback(tenant)}?`)) return url;
      }
      assert.fail(`no way back from ${tenant}'s IdP`);
    };

    // ---- Ana signs in at north's IdP and lands on her own dashboard, in north.
    const ana = await person();
    await ana.tab.goto(`${base}/signin/north`);
    await ana.tab.waitForSelector("body[data-ready=true]");
    assert.deepEqual(await accessibilityProblems(ana.tab), [], "the sign-in page with single sign-on");
    await signInWithSso(ana, "north", "ana", /North Login/);
    assert.deepEqual(await signedInAs(ana), { tenant: "north", actor: "ana" });
    assert.equal(ana.tab.url(), `${base}/`, "no code or state left in the address bar");
    await ana.tab.locator("#agent-screen:not([hidden]) tr[data-my-channel=support]").waitFor();
    assert.equal(await ana.tab.locator("[data-screen=supervisor], [data-screen=admin]").count(), 0);
    const anaCookie = await sessionCookie(ana.context);
    assert.ok(anaCookie?.httpOnly, "a session cookie out of the page's reach");
    assert.notEqual(anaCookie.sameSite, "None");
    await ana.tab.screenshot({ path: join(screenshots, "sso-agent.png"), fullPage: true });
    await ana.context.close();

    // ---- Sue, a supervisor of north: the supervisor's screen.
    const sue = await person();
    await signInWithSso(sue, "north", "sue", /North Login/);
    assert.deepEqual(await signedInAs(sue), { tenant: "north", actor: "sue" });
    await sue.tab.locator("#supervisor-screen:not([hidden]) section[data-channel=support]").waitFor();
    await sue.context.close();

    // ---- Ada, north's admin (by a one-time link: she has no account at the IdP): her
    // Configuration shows the tenant's single sign-on as the operator set it up, and
    // nothing on the page holds the client secret.
    const ada = await person();
    await ada.tab.goto(cli("token", "create", "--tenant", "north", "--user", "ada", "--link", "--url", base));
    await ada.tab.waitForURL(`${base}/`);
    await ada.tab.waitForSelector("body[data-ready=true]");
    await ada.tab.click("[data-screen=admin]");
    const issuerShown = ada.tab.locator("#admin-screen:not([hidden]) #admin-sso [data-sso=ssoIssuer]");
    await issuerShown.waitFor();
    assert.equal(await issuerShown.textContent(), `North Login — ${northIdp.issuer}`);
    assert.equal(await ada.tab.locator("#admin-sso [data-sso=ssoPage]").textContent(), `${base}/signin/north`);
    assert.ok(!(await ada.tab.content()).includes(secrets.NORTH_SECRET), "the secret is not on the page");
    assert.deepEqual(await accessibilityProblems(ada.tab), [], "the Configuration screen with single sign-on");
    await ada.context.close();

    // ---- Mallory: north's IdP vouches for her, but she is no user of north. Refused, with
    // a reason a person can act on, and no session.
    const mallory = await person();
    await signInWithSso(mallory, "north", "mallory", /North Login/);
    await refusal(mallory.tab).waitFor();
    assert.equal(await refusal(mallory.tab).getAttribute("data-code"), "unknown_person");
    assert.equal(mallory.lastDocument().status(), 403);
    assert.match(await refusal(mallory.tab).textContent(), /admin/i, "she is told to ask her admin");
    assert.equal(await sessionCookie(mallory.context), undefined, "Mallory has no session");
    await mallory.tab.screenshot({ path: join(screenshots, "sso-refusal.png"), fullPage: true });
    assert.deepEqual(await accessibilityProblems(mallory.tab), [], "the refusal page");
    await mallory.context.close();

    // ---- Ana again, at south's IdP: the same id, but south's Ana. Never north.
    const anaSouth = await person();
    await signInWithSso(anaSouth, "south", "ana", /South Login/);
    assert.deepEqual(await signedInAs(anaSouth), { tenant: "south", actor: "ana" });
    await anaSouth.tab.locator("#agent-screen:not([hidden]) tr[data-my-channel=care]").waitFor();
    await anaSouth.context.close();

    // ---- South's way back at north's door, in a browser that signed in at south's IdP.
    // South's code and state: the state is of a sign-in this browser began, but for south.
    const mixed = await person();
    const fromSouth = new URL(await callbackUrlOf(mixed.context, "south", "ana"));
    const southCode = fromSouth.searchParams.get("code");
    const crossed = await mixed.tab.goto(`${callback("north")}${fromSouth.search}`);
    await refusal(mixed.tab).waitFor();
    assert.ok(crossed.status() >= 400 && crossed.status() < 500, `south's state at north: ${crossed.status()}`);
    assert.equal(await sessionCookie(mixed.context), undefined, "south's state opened a session in north");
    // South's code with north's own state (and an `iss` that says north, as an attacker
    // would write it): the state holds, so it is north's IdP that refuses the code it
    // never issued — the refusal comes from there, not from before.
    const northStart = await mixed.context.request.get(`${base}/signin/north/start`, { maxRedirects: 0 });
    const toNorthIdp = new URL(northStart.headers().location);
    assert.equal(toNorthIdp.origin, northIdp.issuer, "north's sign-in starts at north's IdP");
    assert.equal(toNorthIdp.searchParams.get("code_challenge_method"), "S256", "with PKCE");
    const northState = toNorthIdp.searchParams.get("state");
    assert.ok(northState, "with a state");
    const query = new URLSearchParams({ code: southCode, state: northState, iss: northIdp.issuer });
    const injected = await mixed.tab.goto(`${callback("north")}?${query}`);
    await refusal(mixed.tab).waitFor();
    const code = await refusal(mixed.tab).getAttribute("data-code");
    assert.ok(["provider_refused", "token_invalid"].includes(code), `south's code at north: ${code}`);
    assert.ok(injected.status() >= 400 && injected.status() < 500, `south's code at north: ${injected.status()}`);
    assert.equal(await sessionCookie(mixed.context), undefined, "south's code opened a session in north");
    await mixed.context.close();

    // ---- Login CSRF: the attacker signs in at north's IdP as Sue and sends the way back
    // (code and state) to a victim, whose browser never started a sign-in: refused, and the
    // victim is not signed in as Sue.
    const attacker = await person();
    const forged = await callbackUrlOf(attacker.context, "north", "sue");
    const victim = await person();
    const forgery = await victim.tab.goto(forged);
    await refusal(victim.tab).waitFor();
    assert.ok(forgery.status() >= 400 && forgery.status() < 500, `the forged way back: ${forgery.status()}`);
    assert.equal(await sessionCookie(victim.context), undefined, "the victim is signed in as the attacker");
    await victim.context.close();
    // A way back works once, in the browser that started it; never twice.
    const own = await callbackUrlOf(attacker.context, "north", "sue");
    await attacker.tab.goto(own);
    await attacker.tab.waitForURL(`${base}/`);
    await attacker.tab.waitForSelector("body[data-ready=true] #signed-in-as[data-tenant]");
    assert.deepEqual(await signedInAs(attacker), { tenant: "north", actor: "sue" });
    const again = await attacker.tab.goto(own);
    await refusal(attacker.tab).waitFor();
    assert.ok(again.status() >= 400 && again.status() < 500, `the way back used twice: ${again.status()}`);
    await attacker.context.close();

    assert.deepEqual(problems, [], "no errors in the pages");
    console.log(`single sign-on test passed; screenshots in ${screenshots}`);
  } finally {
    for (const idp of idps) await idp.stop();
  }
});
