// Which channel cards of the tab are drawn, and when: a card away from the viewport is a
// placeholder until it comes near; one that changed while away is marked stale and drawn
// when it comes near; a redraw keeps a card's scroll position and the keyboard's place.

import { ctx, redraw, ui } from "./context.js";
import { countdown, elapsed, h } from "./dom.js";
import { type Card, cardElement, drawRows, shownOn } from "./roster.js";

const cards = new Map<string, Card>();

/**
 * Cards near the viewport. Only those are drawn; one further away is a placeholder until
 * it comes near (a tab of a large contact center holds dozens of channels, and the feed
 * changes some every moment).
 */
const near = new Set<string>();
/** Cards that changed while away, drawn when they come near. */
const stale = new Set<string>();
const watcher = new IntersectionObserver(
  (entries) => {
    for (const entry of entries) {
      const channel = (entry.target as HTMLElement).dataset.channel;
      if (!channel) continue;
      if (!entry.isIntersecting) {
        near.delete(channel);
      } else if (!near.has(channel)) {
        near.add(channel);
        if (stale.has(channel)) redraw.cards([channel]);
      }
    }
  },
  { rootMargin: "800px 0px" },
);

/** Placeholders of about a card's height, until drawn. */
function placeholder(channel: string): Card {
  const info = ctx.mirror.config().channels[channel];
  const element = h(
    "section",
    { class: "card pending", "data-channel": channel, "aria-labelledby": `channel-${channel}`, "aria-busy": "true" },
    h("header", {}, h("h2", { id: `channel-${channel}` }, info?.name ?? channel)),
  );
  return { element, rows: [] };
}

/** Forgets every card drawn: the next draw starts afresh (another user's view was opened). */
export function forgetCards(): void {
  for (const card of cards.values()) watcher.unobserve(card.element);
  cards.clear();
  near.clear();
  stale.clear();
  shownOn.clear();
}

/** The channels of the current tab in the actor's reach (every user sees every channel, a
 * supervisor the people of those in reach), by name. */
export function channelsOfTab(): string[] {
  const channels = ctx.mirror.config().channels;
  return Object.keys(channels)
    .filter((c) => channels[c]?.kind === ui.tab && ctx.mirror.tenant.reaches(ui.actor, c))
    .sort((a, b) => (channels[a]?.name ?? a).localeCompare(channels[b]?.name ?? b));
}

/**
 * Draws the tab's cards into `container`: all of them when `dirty` is undefined, else
 * only those (the others keep their elements and scroll positions). Cards away from the
 * viewport are only marked stale; `redraw` is called when one comes near.
 */
export function drawChannels(container: HTMLElement, dirty: Set<string> | undefined): void {
  const wanted = channelsOfTab();
  const onTab = new Set(wanted);
  for (const channel of cards.keys()) {
    if (!onTab.has(channel)) {
      const gone = cards.get(channel);
      if (gone) watcher.unobserve(gone.element);
      cards.delete(channel);
      near.delete(channel);
      stale.delete(channel);
    }
  }
  // Before the first layout nothing is known to be near: draw the first few.
  const firstDraw = cards.size === 0;
  for (const [index, channel] of wanted.entries()) {
    const old = cards.get(channel);
    if (old && dirty && !dirty.has(channel)) continue;
    if (old ? !near.has(channel) : !firstDraw || index >= 6) {
      stale.add(channel);
      if (!old) {
        const card = placeholder(channel);
        cards.set(channel, card);
        watcher.observe(card.element);
      }
      continue;
    }
    stale.delete(channel);
    const scrollTop = old?.element.querySelector(".rows")?.scrollTop ?? 0;
    const focused = old?.element.contains(document.activeElement)
      ? (document.activeElement as HTMLElement).dataset
      : undefined;
    const card = cardElement(channel);
    cards.set(channel, card);
    if (old) {
      watcher.unobserve(old.element);
      old.element.replaceWith(card.element);
    }
    watcher.observe(card.element);
    const scroller = card.element.querySelector<HTMLElement>(".rows");
    if (scroller && scrollTop) {
      scroller.scrollTop = scrollTop;
      drawRows(channel, card, scroller);
    }
    // Keep the keyboard where it was across a redraw.
    if (focused?.action || focused?.openMenu) {
      const selector = focused.action
        ? `[data-menu] [data-action="${CSS.escape(focused.action)}"]`
        : `[data-open-menu="${CSS.escape(focused.openMenu ?? "")}"]`;
      card.element.querySelector<HTMLElement>(selector)?.focus();
    }
  }
  const elements = wanted.map((c) => cards.get(c)?.element).filter((e): e is HTMLElement => e !== undefined);
  const inPlace =
    elements.length === container.children.length && elements.every((e, i) => container.children[i] === e);
  if (!inPlace) container.replaceChildren(...elements);
}

/** Advances the durations and countdowns on screen (between events nothing redraws). */
export function tick(container: HTMLElement): boolean {
  const now = ctx.mirror.now();
  let expired = false;
  for (const span of container.querySelectorAll<HTMLElement>(".duration[data-since]")) {
    span.textContent = elapsed(now - Number(span.dataset.since));
  }
  for (const timer of container.querySelectorAll<HTMLElement>(".countdown[data-until]")) {
    const left = Number(timer.dataset.until) - now;
    timer.textContent = countdown(left);
    if (left <= 0) expired = true;
  }
  return expired;
}
