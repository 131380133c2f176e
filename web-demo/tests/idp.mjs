// A real OpenID Connect provider for the single sign-on tests: panva's certified
// oidc-provider, in memory, on a free loopback port, with its own development login
// pages. It is the other side of the sign-in, so the server is held to someone else's
// reading of the protocol, not to ours.
//
// What a browser does there (its built-in "devInteractions"):
//   1. the login page: `input[name=login]`, `input[name=password]` (any password), then
//      `button[type=submit]` ("Sign-in"); a login not in `accounts` gets the form again;
//   2. no consent page: the grant is given at once (as an organisation's IdP does for an
//      app its admin consented to), so the browser goes straight back to the redirect URI.

import { createHash, generateKeyPairSync, randomUUID } from "node:crypto";
import { createServer } from "node:http";

/**
 * Starts a provider. `accounts` by login name: `{ ana: { preferred_username, email, name } }`
 * (preferred_username defaults to the login); `clients`: `[{ client_id, client_secret,
 * redirect_uris }]`. `host` is where the issuer says it is (it listens on 127.0.0.1):
 * "localhost" puts it on another site than a server on 127.0.0.1, as a real IdP is.
 * Returns `{ issuer, stop() }`.
 */
export async function startIdp({ accounts, clients, host = "127.0.0.1" }) {
  const { Provider, interactionPolicy } = await quietly(() => import("oidc-provider"));
  // A login name that is not an account is asked for again, as a wrong password would be
  // (by default the provider would go on without an account and fail with a 500).
  const policy = interactionPolicy.base();
  const { Check } = interactionPolicy;
  policy.get("login").checks.add(new Check("no_account", "no such account", (ctx) => ctx.oidc.account === undefined));

  // The issuer is the URL the provider really has: listen first, then build it with the port.
  const http = createServer();
  await new Promise((listening) => http.listen(0, "127.0.0.1", listening));
  const issuer = `http://${host}:${http.address().port}`;

  // The ID token is signed RS256 with a key of this run, published at jwks_uri.
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: "jwk" }), kid: randomUUID(), use: "sig", alg: "RS256" };

  const byLogin = new Map(
    Object.entries(accounts).map(([login, claims]) => [
      login,
      {
        accountId: login,
        claims: () => ({ sub: login, email_verified: true, preferred_username: login, ...claims }),
      },
    ]),
  );

  const provider = await quietly(
    () =>
      new Provider(issuer, {
        clients: clients.map(({ client_id, client_secret, redirect_uris }) => ({
          client_id,
          client_secret,
          redirect_uris,
          grant_types: ["authorization_code"],
          response_types: ["code"],
          token_endpoint_auth_method: "client_secret_basic",
          // `sub` is opaque (a hash of the login, as Entra ID's pairwise subjects are), so a
          // server that matches people by `sub` instead of the configured claim finds nobody.
          subject_type: "pairwise",
        })),
        subjectTypes: ["public", "pairwise"],
        pairwiseIdentifier: (ctx, accountId) => createHash("sha256").update(`${issuer} ${accountId}`).digest("hex"),
        pkce: { required: () => true }, // S256 is the only method it accepts
        claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["preferred_username", "name"] },
        // The claims of the granted scopes go into the ID token itself (as Entra ID, Google and
        // Keycloak put them), not only behind the userinfo endpoint.
        conformIdTokenClaims: false,
        findAccount: (ctx, id) => byLogin.get(id),
        interactions: { policy },
        // Consent given on the person's behalf: the scopes and claims the request asks for.
        async loadExistingGrant(ctx) {
          const { oidc } = ctx;
          // (A grant is gone once a code of it was used twice: the provider revokes it.)
          const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
          const existing = grantId && (await oidc.provider.Grant.find(grantId));
          if (existing) return existing;
          const grant = new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId: oidc.session.accountId });
          grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(" "));
          grant.addOIDCClaims([...oidc.requestParamClaims]);
          await grant.save();
          return grant;
        },
        jwks: { keys: [jwk] },
        // Cookies are signed with a fixed test key and named per provider: cookies are kept by
        // host, not port, so two providers on 127.0.0.1 (and the server) would share a jar.
        cookies: {
          keys: ["agentstate-idp-test-cookie-key"],
          names: Object.fromEntries(
            ["session", "interaction", "resume"].map((n) => [n, `idp${http.address().port}_${n}`]),
          ),
        },
        ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
      }),
  );
  http.on("request", provider.callback());
  // Its own bugs or ours in configuring it (a 500 at the provider) are worth seeing.
  provider.on("server_error", (ctx, error) => console.error("the IdP failed:", error));

  return {
    issuer,
    stop: () =>
      new Promise((stopped) => {
        http.close(stopped);
        http.closeAllConnections(); // a browser's kept-alive connections would hold it open
      }),
  };
}

/**
 * Runs `make` without oidc-provider's console notices ("Unsupported runtime" on Node 20,
 * "development-only in-memory adapter", "devInteractions is enabled"): a test wants just
 * that. DEBUG=oidc-provider:* shows them and everything else it does.
 */
async function quietly(make) {
  if (process.env.DEBUG?.includes("oidc-provider")) return make();
  const { warn, info } = console;
  const drop =
    (write) =>
    (first, ...rest) => {
      if (!String(first).includes("oidc-provider ")) write.call(console, first, ...rest);
    };
  console.warn = drop(warn);
  console.info = drop(info);
  try {
    return await make();
  } finally {
    console.warn = warn;
    console.info = info;
  }
}
