/** DOM helpers of the operations view: element lookup and creation, text that never parses as HTML. */

export function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`operations view: #${id} is missing from the page`);
  return el;
}

type Attrs = Record<string, string | boolean | undefined>;

/** `h("p", {class: "x"}, "text", child)`: attributes are set as attributes, strings as text nodes. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Array<Node | string>
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    el.setAttribute(name, value === true ? "" : value);
  }
  el.append(...children);
  return el;
}

/** Sets text only when it changed (keeps screen readers and selection calm on every tick). */
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

/** Sets a data attribute only when it changed (a re-set would restart CSS animations keyed on it). */
export function setData(el: HTMLElement, name: string, value: string): void {
  if (el.dataset[name] !== value) el.dataset[name] = value;
}

/** The child matching `selector`, which the page's own markup guarantees. */
export function part<T extends Element = HTMLElement>(root: ParentNode, selector: string): T {
  const el = root.querySelector<T>(selector);
  if (!el) throw new Error(`operations view: ${selector} is missing`);
  return el;
}
