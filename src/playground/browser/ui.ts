/** DOM helpers of the playground: element lookup, the level badge, and the event log. */

export function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`playground: #${id} is missing from the page`);
  return el;
}

export function input(id: string): HTMLInputElement {
  return $(id) as HTMLInputElement;
}

export function setText(id: string, text: string): void {
  $(id).textContent = text;
}

/** The big badge: CLEAR / SUSPICIOUS / ALERT, colour-coded by data-level; "none" when not connected. */
export function setBadge(level: string | null, text?: string): void {
  const badge = $("badge");
  badge.dataset.level = level ?? "none";
  badge.textContent = text ?? (level ? level.toUpperCase() : "NOT CONNECTED");
}

const MAX_LOG_ENTRIES = 300;

export type LogKind = "info" | "clear" | "suspicious" | "alert" | "error";

/**
 * Appends a line to the scrolling log (oldest first, newest at the bottom). A line equal to the
 * previous one is folded into it with a repeat count, so a burst of identical errors stays readable.
 */
export function log(kind: LogKind, text: string): void {
  const list = $("log");
  const last = list.lastElementChild as HTMLLIElement | null;
  if (last && last.dataset.text === text && last.dataset.kind === kind) {
    const times = Number(last.dataset.times ?? "1") + 1;
    last.dataset.times = String(times);
    let counter = last.querySelector(".times");
    if (!counter) {
      counter = document.createElement("span");
      counter.className = "times";
      last.append(counter);
    }
    counter.textContent = `×${times}`;
    return;
  }
  const stick = list.scrollTop + list.clientHeight >= list.scrollHeight - 24;
  const item = document.createElement("li");
  item.dataset.text = text;
  item.dataset.kind = kind;
  const time = document.createElement("time");
  const now = new Date();
  time.textContent = now.toTimeString().slice(0, 8) + "." + String(now.getMilliseconds()).padStart(3, "0");
  const body = document.createElement("span");
  body.className = `k-${kind}`;
  body.textContent = text;
  item.append(time, body);
  list.append(item);
  while (list.childElementCount > MAX_LOG_ENTRIES) list.firstElementChild?.remove();
  if (stick) list.scrollTop = list.scrollHeight;
}

export function kb(bytes: number): string {
  return bytes >= 1_048_576 ? `${(bytes / 1_048_576).toFixed(1)} MB` : `${(bytes / 1024).toFixed(1)} KB`;
}

export function plural(n: number, noun: string): string {
  return `${n.toLocaleString()} ${noun}${n === 1 ? "" : "s"}`;
}

export function fps(value: number | null): string {
  if (value === null) return "—";
  if (value === 0) return "video off (0 fps)";
  return `${value} fps (one frame every ${(1 / value).toFixed(value >= 1 ? 1 : 0)} s)`;
}
