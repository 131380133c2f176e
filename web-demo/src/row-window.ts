// A long list in a scroll window of fixed height: only the rows its scroll position
// shows are in the page, between two spacers that keep the scrollbar true.

import { h } from "./dom.js";

/** Rosters longer than this scroll in a window of fixed height, rendering what shows. */
export const WINDOWED_FROM = 40;
export const ROW_HEIGHT = 56;
export const WINDOW_ROWS = 12;
const OVERSCAN = 6;

/** Draws into `scroller`'s table the rows its scroll position shows, each as `row` draws it. */
export function drawWindow<R>(rows: R[], scroller: HTMLElement, row: (row: R) => HTMLElement): void {
  const first = Math.max(0, Math.floor(scroller.scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(rows.length, first + WINDOW_ROWS + 2 * OVERSCAN);
  const spacer = (count: number) =>
    h("tr", { class: "spacer", "aria-hidden": "true", style: `height:${count * ROW_HEIGHT}px` });
  const body = h("tbody", {}, spacer(first), rows.slice(first, last).map(row), spacer(rows.length - last));
  scroller.querySelector("tbody")?.replaceWith(body);
}
