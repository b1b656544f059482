/**
 * The room's watch socket (docs/DESIGN.md §12), kept open on its own: it reconnects with backoff after
 * any close (1 s doubling to 10 s, with jitter), at once when the browser comes back online or the
 * tab becomes visible with the socket down, and reports its state for the page's connection pill.
 * A refused upgrade is invisible to a browser, so after a socket that never opened it asks the room
 * route over HTTP whether the key or the room is the problem.
 */
import { Backoff } from "../../shared/backoff.js";
import { HttpError, NeedKey, api, openWatchSocket, roomPath } from "./api.js";

export type WatchState =
  | { kind: "connecting" }
  | { kind: "live"; sinceMs: number }
  | { kind: "retrying"; atMs: number; reason: string }
  | { kind: "stopped"; reason: string };

export interface WatchHandlers {
  message(text: string): void;
  state(state: WatchState): void;
  needKey(refused: boolean): void;
}

const RECONNECT_INITIAL_MS = 1_000;
const RECONNECT_MAX_MS = 10_000;

export class RoomWatch {
  readonly #roomId: string;
  readonly #on: WatchHandlers;
  readonly #backoff = new Backoff({ initialMs: RECONNECT_INITIAL_MS, maxMs: RECONNECT_MAX_MS, jitterRatio: 0.5 });
  #socket: WebSocket | null = null;
  #timer: number | undefined;
  #stopped = false;
  readonly #wake = () => {
    if (!this.#stopped && this.#socket === null && document.visibilityState === "visible") this.#connectNow();
  };

  constructor(roomId: string, handlers: WatchHandlers) {
    this.#roomId = roomId;
    this.#on = handlers;
  }

  start(): void {
    this.#stopped = false;
    window.addEventListener("online", this.#wake);
    document.addEventListener("visibilitychange", this.#wake);
    this.#connectNow();
  }

  stop(reason: string): void {
    this.#stopped = true;
    window.clearTimeout(this.#timer);
    window.removeEventListener("online", this.#wake);
    document.removeEventListener("visibilitychange", this.#wake);
    const socket = this.#socket;
    this.#socket = null;
    socket?.close(1000, "page closed the view");
    this.#on.state({ kind: "stopped", reason });
  }

  #connectNow(): void {
    window.clearTimeout(this.#timer);
    this.#on.state({ kind: "connecting" });
    let socket: WebSocket;
    try {
      socket = openWatchSocket(this.#roomId);
    } catch (err) {
      this.stop(`cannot open the watch socket: ${(err as Error).message}`);
      return;
    }
    this.#socket = socket;
    let opened = false;
    socket.addEventListener("open", () => {
      opened = true;
      this.#backoff.reset();
      this.#on.state({ kind: "live", sinceMs: Date.now() });
    });
    socket.addEventListener("message", (event) => {
      if (typeof event.data === "string") this.#on.message(event.data);
    });
    socket.addEventListener("close", (event) => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      if (this.#stopped) return;
      const reason = opened ? `closed (${event.code}${event.reason ? `: ${event.reason}` : ""})` : "could not connect";
      if (opened) this.#retry(reason);
      else void this.#diagnose();
    });
  }

  #retry(reason: string): void {
    const { delayMs } = this.#backoff.next();
    this.#on.state({ kind: "retrying", atMs: Date.now() + delayMs, reason });
    this.#timer = window.setTimeout(() => this.#connectNow(), delayMs);
  }

  /** The upgrade failed: a 401 means the key, anything else is retried. */
  async #diagnose(): Promise<void> {
    try {
      await api(roomPath(this.#roomId));
      this.#retry("the watch socket was refused");
    } catch (err) {
      if (this.#stopped) return;
      if (err instanceof NeedKey) {
        this.stop(err.message);
        this.#on.needKey(err.refused);
      } else if (err instanceof HttpError) {
        this.#retry(`${err.message} (HTTP ${err.status})`);
      } else {
        this.#retry("the service is unreachable");
      }
    }
  }
}
