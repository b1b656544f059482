/**
 * One room (GET /rooms/:room): the room's level across the top, a tile per participant with a live
 * badge, per-track levels, the last change and a "check now" button, and the event log. State comes
 * from the watch socket through the pure reducer in ../view/room-state.ts; a snapshot over HTTP
 * reconciles per-track levels after events (a transition names only the track that caused it).
 * A key that cannot ride on the socket as a subprotocol (keyProblem) makes the page poll the room's
 * snapshot and new events every second instead, with the key in a header.
 */
import { ago, checkSummary, clock, lastEventText, pageTitle, secondsLeft } from "../view/format.js";
import { parseEventsPage, parseRoomSnapshot, parseWatchEvent } from "../view/parse.js";
import {
  applyEvent,
  emptyRoom,
  isFresh,
  tileOrder,
  withCheckStarted,
  withHistory,
  withSnapshot,
  type ParticipantView,
  type RoomView,
} from "../view/room-state.js";
import { HttpError, NeedKey, api, keyProblem, roomPath, storedKey } from "./api.js";
import { $, h, part, setData, setText } from "./dom.js";
import { RoomWatch, type WatchState } from "./watch.js";

/** A tile stays highlighted this long after its level changed. */
const FRESH_MS = 10_000;
/** Reconcile with GET /v1/rooms/:room this long after the last event, and at least this often. */
const RECONCILE_DELAY_MS = 400;
const RECONCILE_EVERY_MS = 15_000;
/** The room's history is read oldest first: up to 20 000 events, of which the log keeps the newest. */
const HISTORY_PAGE_ROWS = 1_000;
const HISTORY_MAX_PAGES = 20;
/** Without the socket: how often the room is polled. */
const POLL_MS = 1_000;

export interface PageHooks {
  needKey(refused: boolean): void;
  problem(text: string | null): void;
  connection(text: string, state: string): void;
}

export class RoomPage {
  #view: RoomView;
  #watch: RoomWatch;
  #state: WatchState = { kind: "connecting" };
  #lastMessageMs: number | null = null;
  #reconcileTimer: number | undefined;
  #timers: number[] = [];
  readonly #checkNotes = new Map<string, string>();
  /** The last room event seen over HTTP (the cursor of GET …/events). */
  #after: string | null = null;
  readonly #polling: boolean;
  #pollTimer: number | undefined;
  #stopped = false;

  constructor(
    readonly roomId: string,
    readonly hooks: PageHooks,
  ) {
    this.#view = emptyRoom(roomId);
    const key = storedKey();
    this.#polling = key !== null && keyProblem(key) !== null;
    this.#watch = new RoomWatch(roomId, {
      message: (text) => this.#onMessage(text),
      state: (state) => this.#onState(state),
      needKey: (refused) => hooks.needKey(refused),
    });
  }

  async start(): Promise<void> {
    $("room-view").hidden = false;
    setText($("room-name"), this.roomId);
    this.#render();
    this.#timers.push(window.setInterval(() => this.#render(), 1_000));
    // The history first: its answer says whether a key is needed before any socket is tried.
    if (!(await this.#loadHistory()) || this.#stopped) return;
    if (this.#polling) return this.#poll();
    this.#watch.start();
    this.#timers.push(window.setInterval(() => this.#reconcile(), RECONCILE_EVERY_MS));
  }

  stop(): void {
    this.#stopped = true;
    this.#watch.stop("stopped");
    for (const t of this.#timers) window.clearInterval(t);
    window.clearTimeout(this.#reconcileTimer);
    window.clearTimeout(this.#pollTimer);
  }

  /** Reads the room's events after the cursor: into the log only, or (`live`) through the reducer. */
  async #readEvents(live: boolean): Promise<void> {
    for (let page = 0; page < HISTORY_MAX_PAGES; page++) {
      const cursor = this.#after ? `&after=${encodeURIComponent(this.#after)}` : "";
      const parsed = parseEventsPage(await api(`${roomPath(this.roomId)}/events?limit=${HISTORY_PAGE_ROWS}${cursor}`));
      if (!parsed.ok) throw new Error(parsed.error);
      const { events, nextAfter } = parsed.value;
      if (live) for (const e of events) this.#view = applyEvent(this.#view, e, Date.now());
      else this.#view = withHistory(this.#view, events);
      this.#after = events.at(-1)?.id ?? this.#after;
      if (!nextAfter) break;
    }
  }

  /** Without the socket: new events, then the snapshot (the newer of the two), every POLL_MS. */
  async #poll(): Promise<void> {
    if (this.#stopped) return;
    try {
      await this.#readEvents(true);
      const parsed = parseRoomSnapshot(await api(roomPath(this.roomId)));
      if (parsed.ok) this.#view = withSnapshot(this.#view, parsed.value, Date.now());
      this.#lastMessageMs = Date.now();
      if (this.#state.kind !== "live") this.#state = { kind: "live", sinceMs: Date.now() };
    } catch (err) {
      if (err instanceof NeedKey) return this.hooks.needKey(err.refused);
      const reason = err instanceof HttpError ? `${err.message} (HTTP ${err.status})` : "the service is unreachable";
      this.#state = { kind: "retrying", atMs: Date.now() + POLL_MS, reason };
    }
    this.#render();
    this.#pollTimer = window.setTimeout(() => void this.#poll(), POLL_MS);
  }

  /** False when a key is needed (the page then asks for it); other failures leave the log empty. */
  async #loadHistory(): Promise<boolean> {
    try {
      await this.#readEvents(false);
      this.#render();
    } catch (err) {
      if (err instanceof NeedKey) {
        this.hooks.needKey(err.refused);
        return false;
      }
      if (!(err instanceof HttpError && err.status === 404)) {
        this.hooks.problem(`could not load the room's history: ${(err as Error).message}`);
      }
    }
    return true;
  }

  #onMessage(text: string): void {
    this.#lastMessageMs = Date.now();
    const parsed = parseWatchEvent(text);
    if (!parsed.ok) {
      console.warn(`operations view: ${parsed.error}`);
      return;
    }
    this.#view = applyEvent(this.#view, parsed.value, Date.now());
    if (parsed.value.type !== "room" && parsed.value.type !== "check_started") this.#scheduleReconcile();
    this.#render();
  }

  #onState(state: WatchState): void {
    this.#state = state;
    this.#render();
  }

  #scheduleReconcile(): void {
    window.clearTimeout(this.#reconcileTimer);
    this.#reconcileTimer = window.setTimeout(() => this.#reconcile(), RECONCILE_DELAY_MS);
  }

  async #reconcile(): Promise<void> {
    if (this.#state.kind !== "live") return;
    const appliedAtFetch = this.#view.applied;
    try {
      const parsed = parseRoomSnapshot(await api(roomPath(this.roomId)));
      if (parsed.ok && isFresh(this.#view, appliedAtFetch)) {
        this.#view = withSnapshot(this.#view, parsed.value, Date.now());
      }
      this.#render();
    } catch (err) {
      if (err instanceof NeedKey) this.hooks.needKey(err.refused);
    }
  }

  async #checkNow(participantId: string, button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    this.#checkNotes.set(participantId, "starting a check…");
    this.#render();
    try {
      const body = await api(`/v1/participants/${encodeURIComponent(participantId)}/checks`, { method: "POST" });
      const answer = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
      this.#checkNotes.delete(participantId);
      if (typeof answer.check_id === "string" && typeof answer.until_ms === "number") {
        const check = { checkId: answer.check_id, untilMs: answer.until_ms };
        this.#view = withCheckStarted(this.#view, participantId, check);
      }
    } catch (err) {
      if (err instanceof NeedKey) this.hooks.needKey(err.refused);
      const limited = err instanceof HttpError && err.status === 429;
      const why = limited ? "too many checks: try again shortly" : (err as Error).message;
      this.#checkNotes.set(participantId, `check refused: ${why}`);
    }
    this.#render();
  }

  #render(): void {
    const now = Date.now();
    const view = this.#view;
    this.#renderConnection(now);
    const banner = $("room-banner");
    setData(banner, "level", view.loaded ? view.level : "none");
    setText($("room-level"), view.loaded ? view.level.toUpperCase() : "…");
    const connected = view.participants.filter((p) => p.connected);
    const counts = `${connected.length} of ${view.participants.length} connected`;
    setText($("room-counts"), view.loaded ? counts : "loading…");
    const worst = connected.filter((p) => p.level !== "clear" && p.level === view.level).map((p) => p.participantId);
    setText($("room-worst"), worst.length ? `${view.level.toUpperCase()}: ${worst.join(", ")}` : "");
    document.title = pageTitle(`${this.roomId} · deepfake-edge`, view.loaded ? view.level : null);
    this.#renderTiles(now);
    this.#renderLog();
  }

  #renderConnection(now: number): void {
    const s = this.#state;
    const stale = $("stale");
    const last = this.#lastMessageMs ? `last update ${clock(this.#lastMessageMs)}` : "no update yet";
    if (s.kind === "live") {
      this.hooks.connection(this.#polling ? "LIVE · polling" : "LIVE", "live");
      stale.hidden = true;
    } else if (s.kind === "retrying") {
      this.hooks.connection(`RECONNECTING in ${secondsLeft(s.atMs, now)} s`, "retrying");
      stale.hidden = false;
      setText(stale, `Not live: ${s.reason}. Levels shown may be out of date (${last}).`);
    } else if (s.kind === "connecting") {
      this.hooks.connection("CONNECTING…", "connecting");
      stale.hidden = !this.#view.loaded;
      setText(stale, `Reconnecting: levels shown may be out of date (${last}).`);
    } else {
      this.hooks.connection("OFFLINE", "offline");
      stale.hidden = false;
      setText(stale, `Not live: ${s.reason}.`);
    }
    document.body.dataset.live = s.kind === "live" ? "true" : "false";
  }

  #renderTiles(now: number): void {
    const container = $("tiles");
    const existing = new Map<string, HTMLElement>();
    for (const el of container.querySelectorAll<HTMLElement>(".tile")) existing.set(el.dataset.pid ?? "", el);
    const order = tileOrder(this.#view);
    order.forEach((p, index) => {
      const tile = existing.get(p.participantId) ?? this.#newTile(p.participantId);
      existing.delete(p.participantId);
      this.#fillTile(tile, p, now);
      if (container.children[index] !== tile) container.insertBefore(tile, container.children[index] ?? null);
    });
    for (const gone of existing.values()) gone.remove();
    $("tiles-empty").hidden = !this.#view.loaded || order.length > 0;
  }

  #newTile(participantId: string): HTMLElement {
    const template = $("tile-template") as HTMLTemplateElement;
    const tile = (template.content.firstElementChild as HTMLElement).cloneNode(true) as HTMLElement;
    tile.dataset.pid = participantId;
    setText(part(tile, ".pid"), participantId);
    const button = part<HTMLButtonElement>(tile, ".check-now");
    button.setAttribute("aria-label", `Check ${participantId} now`);
    button.addEventListener("click", () => void this.#checkNow(participantId, button));
    return tile;
  }

  #fillTile(tile: HTMLElement, p: ParticipantView, now: number): void {
    setData(tile, "level", p.level);
    setData(tile, "connected", String(p.connected));
    setData(tile, "fresh", String(p.changedAtMs !== null && now - p.changedAtMs < FRESH_MS));
    const badge = part(tile, ".badge");
    setData(badge, "level", p.level);
    setText(badge, p.level.toUpperCase());
    setText(part(tile, ".presence"), p.connected ? "● connected" : "○ left");
    const since = p.sinceMs ? `${p.level.toUpperCase()} for ${ago(p.sinceMs, now)} · since ${clock(p.sinceMs)}` : "";
    setText(part(tile, ".since"), since);
    this.#fillTracks(part(tile, ".tracks"), p);
    setText(part(tile, ".last"), lastEventText(p.lastEvent));
    const button = part<HTMLButtonElement>(tile, ".check-now");
    const running = p.check && p.check.untilMs > now ? p.check : null;
    const note = this.#checkNotes.get(p.participantId);
    button.disabled = !p.connected || running !== null || note === "starting a check…";
    setText(button, running ? `Checking… ${secondsLeft(running.untilMs, now)} s` : "Check now");
    setData(tile, "checking", String(running !== null));
    const last = p.lastCheck ? `Last check ${clock(p.lastCheck.completedMs)}: ${checkSummary(p.lastCheck)}` : null;
    const status = note ?? last ?? (p.connected ? "" : "Left the room");
    setText(part(tile, ".check-status"), status);
  }

  #fillTracks(list: HTMLElement, p: ParticipantView): void {
    const key = p.tracks.map((t) => `${t.trackId}=${t.level}`).join("|");
    if (list.dataset.key === key) return;
    list.dataset.key = key;
    const chip = (t: { trackId: string; level: string }) =>
      h("li", { "data-level": t.level }, h("span", { class: "track" }, t.trackId), h("b", {}, t.level.toUpperCase()));
    list.replaceChildren(...p.tracks.map(chip));
    if (p.tracks.length === 0) list.append(h("li", { class: "none" }, "no track results yet"));
  }

  #renderLog(): void {
    const list = $("log");
    const key = this.#view.log[0]?.key ?? "";
    if (list.dataset.top === key && list.childElementCount === this.#view.log.length) return;
    list.dataset.top = key;
    list.replaceChildren(
      ...this.#view.log.map((e) =>
        h("li", { "data-kind": e.kind }, h("time", {}, clock(e.atMs)), h("span", {}, e.text)),
      ),
    );
  }
}
