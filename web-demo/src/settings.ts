// The tenant's settings, for admins: every setting the module knows, as it stands now.

import { act, ctx, say, ui } from "./context.js";
import { h } from "./dom.js";
import type { Word } from "./i18n.js";

export function settingsPanel(): HTMLElement | null {
  const config = ctx.mirror.config();
  if (!config.users[ui.actor]?.roles.includes("admin")) return null;
  return h(
    "section",
    { class: "panel", id: "settings-panel", "aria-labelledby": "settings-title" },
    h("h3", { id: "settings-title" }, say("settings")),
    ctx.vocabulary.settings.map(([setting, initially]) =>
      h(
        "label",
        { class: "setting" },
        h("input", {
          type: "checkbox",
          "data-setting": setting,
          checked: config.settings[setting] ?? initially,
          onchange: (e: Event) =>
            void act({ type: "set_setting", setting, value: (e.target as HTMLInputElement).checked }, undefined),
        }),
        ` ${say(setting as Word)}`,
      ),
    ),
  );
}
