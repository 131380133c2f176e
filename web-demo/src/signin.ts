// The sign-in page: a token pasted in, or the secret of a one-time link after `#` (which
// the browser never sends to a server, so it stays out of logs). Either is exchanged for
// an HttpOnly session cookie at once and kept nowhere in the page.

import { Api, type SsoOffer } from "./api.js";
import { byId, h } from "./dom.js";
import { t, type Lang } from "./i18n.js";

/** The page's state: its language, and at `/signin/<tenant>` that tenant's single sign-on. */
const page: { lang: Lang; offer: SsoOffer | null } = {
  lang: localStorage.getItem("lang") === "de" ? "de" : "en",
  offer: null,
};

function words(): void {
  document.documentElement.lang = page.lang;
  byId("signin-title").textContent = `agentstate — ${t(page.lang, "signInTitle")}`;
  byId("signin-help").textContent = t(page.lang, "signInHelp");
  byId("token-label").textContent = t(page.lang, "token");
  byId("signin-submit").textContent = t(page.lang, "signInTitle");
  const sso = document.getElementById("sso");
  if (sso && page.offer) sso.textContent = `${t(page.lang, "signInWith")} ${page.offer.name}`;
  const or = document.getElementById("signin-or");
  if (or) or.textContent = t(page.lang, "orToken");
}

/** A tenant's own sign-in page offers its company sign-in first. */
async function offerSingleSignOn(): Promise<void> {
  const tenant = /^\/signin\/([^/]+)\/?$/.exec(location.pathname)?.[1];
  if (!tenant) return;
  const offer = await Api.ssoOffer(decodeURIComponent(tenant));
  page.offer = offer;
  if (!offer) return;
  const form = byId<HTMLFormElement>("signin");
  const help = byId("signin-help");
  help.before(h("a", { id: "sso", class: "button primary", href: offer.start }), h("p", { id: "signin-or" }));
  form.dataset.sso = offer.tenant;
  words();
}

async function exchange(body: { token: string } | { link: string }): Promise<void> {
  const error = byId("signin-error");
  error.textContent = t(page.lang, "signingIn");
  const response = await fetch("/api/session", {
    method: "POST",
    headers: { "Content-Type": "application/json", "Accept-Language": page.lang },
    body: JSON.stringify(body),
  });
  if (response.ok) {
    location.replace("/");
    return;
  }
  const answer = (await response.json().catch(() => ({}))) as { error?: { message?: string } };
  error.textContent = `${t(page.lang, "signInFailed")}: ${answer.error?.message ?? response.status}`;
}

/** A sign-in link: take the secret out of the address bar and history first. */
function followLink(): void {
  const link = location.hash.slice(1);
  if (!link) return;
  history.replaceState(null, "", location.pathname);
  void exchange({ link });
}

function main(): void {
  const picker = byId<HTMLSelectElement>("lang");
  picker.value = page.lang;
  picker.onchange = () => {
    page.lang = picker.value === "de" ? "de" : "en";
    localStorage.setItem("lang", page.lang);
    words();
  };
  words();
  const form = byId<HTMLFormElement>("signin");
  form.onsubmit = (event) => {
    event.preventDefault();
    const field = byId<HTMLInputElement>("token");
    const token = field.value.trim();
    field.value = "";
    void exchange({ token });
  };
  followLink();
  // A link opened in a tab already on this page changes only the fragment.
  window.addEventListener("hashchange", followLink);
  void offerSingleSignOn().finally(() => {
    document.body.dataset.ready = "true";
  });
}

main();
