// The Actions menu of one agent on one channel: every §4.1 action, enabled from the
// module's allowedActions (a disabled one says why in its title), plus history and the
// day at a glance. Keyboard: arrows move, Escape closes and returns to the button.

import type { AllowedActions } from "agentstate";
import { actionButton, ctx, say, ui } from "./context.js";
import { h } from "./dom.js";
import { showHistory } from "./history.js";
import { openTimeline } from "./timeline.js";
import { send } from "./update.js";

export function closeMenu(): void {
  const key = ui.openMenu;
  send({ kind: "menu", key: null });
  if (key)
    requestAnimationFrame(() => document.querySelector<HTMLElement>(`[data-open-menu="${CSS.escape(key)}"]`)?.focus());
}

function keyboard(event: KeyboardEvent): void {
  const menu = event.currentTarget as HTMLElement;
  const items = [...menu.querySelectorAll<HTMLButtonElement>("button:not(:disabled)")];
  const at = items.indexOf(document.activeElement as HTMLButtonElement);
  const move = (to: number) => items[(to + items.length) % items.length]?.focus();
  if (event.key === "ArrowDown") move(at + 1);
  else if (event.key === "ArrowUp") move(at - 1);
  else if (event.key === "Home") move(0);
  else if (event.key === "End") move(items.length - 1);
  else if (event.key === "Escape") closeMenu();
  else return;
  event.preventDefault();
}

export function actionsMenu(channel: string, user: string): HTMLElement {
  const tenant = ctx.mirror.tenant;
  const config = ctx.mirror.config();
  const v: AllowedActions = tenant.allowedActions(ui.actor, user, channel, ctx.mirror.now());
  const kind = config.channels[channel]?.kind;
  const after = () => send({ kind: "menu", key: null, channel });
  return h(
    "div",
    {
      class: "menu",
      role: "menu",
      "aria-label": `${say("actions")}: ${config.users[user]?.name ?? user}`,
      "data-menu": `${channel}/${user}`,
      onkeydown: keyboard as EventListener,
    },
    actionButton(say("sign_in"), v.sign_in, { type: "sign_in", user, channel }, "sign_in", after),
    actionButton(say("sign_out"), v.sign_out, { type: "sign_out", user, channel }, "sign_out", after),
    ctx.mirror
      .pauseReasons()
      .map((r) =>
        actionButton(
          `${say("pause")}: ${r}`,
          v.pause,
          { type: "pause", user, channel, reason: r },
          `pause:${r}`,
          after,
        ),
      ),
    actionButton(say("resume"), v.resume, { type: "resume", user, channel }, "resume", after),
    actionButton(say("end_wrap_up"), v.end_wrap_up, { type: "end_wrap_up", user }, "end_wrap_up", after),
    kind && ctx.vocabulary.call_kinds.includes(kind)
      ? ctx.vocabulary.monitor_modes.map((mode) =>
          actionButton(
            `${say("monitor")}: ${say(mode)}`,
            v.monitor[mode],
            { type: "monitor", user, mode },
            `monitor:${mode}`,
            after,
          ),
        )
      : null,
    actionButton(say("stop_monitor"), v.stop_monitor, { type: "stop_monitor", user }, "stop_monitor", after),
    actionButton(say("sign_out_all"), v.sign_out_all, { type: "sign_out_all", user }, "sign_out_all", after),
    h(
      "button",
      {
        class: "action",
        role: "menuitem",
        "data-action": "history",
        onclick: () => {
          send({ kind: "menu", key: null, channel });
          void showHistory(user);
        },
      },
      say("history"),
    ),
    h(
      "button",
      {
        class: "action",
        role: "menuitem",
        "data-action": "timeline",
        onclick: () => {
          send({ kind: "menu", key: null, channel });
          void openTimeline(user);
        },
      },
      say("timeline"),
    ),
  );
}
