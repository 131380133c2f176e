// A small element builder: the dashboard re-renders from the local state, no framework.

export type Child = Node | string | number | null | undefined | false;
type Props = Record<string, string | number | boolean | EventListener | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  setProps(element, props);
  append(element, children);
  return element;
}

/** An SVG element (the timeline). */
export function svg(tag: string, props: Props = {}, ...children: (Child | Child[])[]): SVGElement {
  const element = document.createElementNS("http://www.w3.org/2000/svg", tag);
  setProps(element, props);
  append(element, children);
  return element;
}

function setProps(element: Element, props: Props): void {
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      element.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (value === true) {
      element.setAttribute(key, "");
    } else {
      element.setAttribute(key, String(value));
    }
  }
}

function append(element: Element, children: (Child | Child[])[]): void {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
}

export function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element as T;
}

/** "1:05" for 65 000 ms. */
export function countdown(ms: number): string {
  const secs = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(secs / 60)}:${String(secs % 60).padStart(2, "0")}`;
}

/** "0:42", "12:05", "1:02:03": how long a state has lasted. */
export function elapsed(ms: number): string {
  const secs = Math.max(0, Math.floor(ms / 1000));
  const [hours, minutes, seconds] = [Math.floor(secs / 3600), Math.floor(secs / 60) % 60, secs % 60];
  const two = (n: number) => String(n).padStart(2, "0");
  return hours > 0 ? `${hours}:${two(minutes)}:${two(seconds)}` : `${minutes}:${two(seconds)}`;
}

export function clockTime(ms: number, lang: string): string {
  return new Date(ms).toLocaleTimeString(lang === "de" ? "de-DE" : "en-GB");
}

/**
 * Replaces `container`'s content with `content`, keeping the keyboard where it was: the
 * element with the same id (or data key) gets the focus back, a text field its caret.
 */
export function replaceKeepingFocus(container: HTMLElement, content: HTMLElement): void {
  const active = document.activeElement;
  const inside = active instanceof HTMLElement && container.contains(active) ? active : null;
  const key =
    inside &&
    (inside.id
      ? `#${CSS.escape(inside.id)}`
      : [...inside.attributes]
          .filter((a) => a.name.startsWith("data-"))
          .map((a) => `[${a.name}="${CSS.escape(a.value)}"]`)
          .join(""));
  // Where the caret or selection is in a text field (a search field too: typing there while
  // the feed redraws must not move it — "select all, then type" would append instead).
  const caret =
    inside instanceof HTMLInputElement && (inside.type === "text" || inside.type === "search")
      ? [inside.selectionStart, inside.selectionEnd]
      : null;
  container.replaceChildren(content);
  if (!key) return;
  const again = container.querySelector<HTMLElement>(key);
  again?.focus();
  if (caret && again instanceof HTMLInputElement) again.setSelectionRange(caret[0] ?? null, caret[1] ?? null);
}
