// The page of a user without a contact-center role: it says so, and shows nothing of the
// tenant (the source article: a role is what gives a user a dashboard at all).

import { nameOf, say, ui } from "./context.js";
import { h } from "./dom.js";

export function noRoleScreen(): HTMLElement {
  return h(
    "section",
    { class: "panel", id: "no-role", role: "alert" },
    h("h2", {}, say("noRoleTitle")),
    h("p", {}, `${say("signedInAs")} ${nameOf(ui.actor)}. ${say("noRoleText")}`),
  );
}
