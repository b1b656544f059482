/**
 * The upstream link: one WebSocket to the Dataspike API per participant, a bounded send queue in
 * front of it, and reconnection with backoff. Pure: the socket factory and timers are injected, so
 * it tests in Node with fakes.
 *
 * The connect *promise* is kept (not only the socket), so messages arriving together share one
 * connection attempt.
 */
import type { Backoff } from "../shared/backoff.js";
import type { SendQueue } from "./send-queue.js";
import { realTimers, type Timers } from "../shared/timers.js";

export type { Timers };

/** One serialized FrameRequest waiting for the socket, with the track it feeds. */
export interface Outgoing {
  data: Uint8Array;
  trackId: string;
}

/** The part of a WebSocket the link uses (structural, satisfied by the Workers WebSocket). */
export interface UpstreamSocket {
  send(data: ArrayBuffer | Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
  addEventListener(type: "close" | "error", listener: (event: unknown) => void): void;
}

export type UpstreamStatus = "idle" | "connecting" | "connected" | "reconnecting";

export interface UpstreamHooks {
  connected(): void;
  reconnecting(retryInMs: number, reason: string): void;
  message(data: ArrayBuffer): void;
  /** Queued messages were dropped (queue full by items or bytes: the oldest go). */
  dropped?(count: number): void;
  /** Queued messages were dropped because they waited longer than the queue's max age. */
  stale?(count: number): void;
  /** A message for `trackId` was handed to the upstream socket (the track's activity). */
  sent?(trackId: string): void;
}


export interface UpstreamLinkOptions {
  connect: () => Promise<UpstreamSocket>;
  backoff: Backoff;
  queue: SendQueue<Outgoing>;
  healthyAfterMs: number;
  connectTimeoutMs: number;
  hooks: UpstreamHooks;
  timers?: Timers;
}


export class UpstreamLink {
  #socket: UpstreamSocket | null = null;
  #connecting: Promise<void> | null = null;
  #retryTimer: unknown = null;
  #healthyTimer: unknown = null;
  #wanted = false;
  #status: UpstreamStatus = "idle";
  #sent = 0;
  #connects = 0;
  readonly #timers: Timers;

  constructor(private readonly options: UpstreamLinkOptions) {
    this.#timers = options.timers ?? realTimers;
  }

  get status(): UpstreamStatus {
    return this.#status;
  }
  /** Messages handed to the upstream socket. */
  get sent(): number {
    return this.#sent;
  }
  /** Successful connections since creation. */
  get connects(): number {
    return this.#connects;
  }
  get queued(): number {
    return this.options.queue.length;
  }

  /** Keep a connection open from now on (first client joined). */
  start(): void {
    if (this.#wanted) return;
    this.#wanted = true;
    void this.#connectNow();
  }

  /** Close the connection, stop reconnecting and forget queued messages (last client left). */
  stop(reason = "idle"): void {
    this.#wanted = false;
    this.#status = "idle";
    this.#cancelTimers();
    this.options.queue.clear();
    const socket = this.#socket;
    this.#socket = null;
    if (socket) {
      try {
        socket.close(1000, reason);
      } catch {
        // already closed
      }
    }
  }

  /** Queue one serialized FrameRequest for `trackId` and flush what the connection can take. */
  send(data: Uint8Array, trackId = ""): void {
    const evicted = this.options.queue.push({ data, trackId }, this.#timers.now()).length;
    if (evicted > 0) this.options.hooks.dropped?.(evicted);
    this.#flush();
    if (!this.#socket && this.#wanted && !this.#connecting && this.#retryTimer === null) void this.#connectNow();
  }

  #connectNow(): Promise<void> {
    if (this.#connecting) return this.#connecting;
    this.#retryTimer = null;
    this.#status = this.#status === "reconnecting" ? "reconnecting" : "connecting";
    const attempt = this.#withTimeout(this.options.connect()).then(
      (socket) => this.#adopt(socket),
      (err: unknown) => this.#scheduleRetry(`connect failed: ${err instanceof Error ? err.message : String(err)}`),
    );
    this.#connecting = attempt.finally(() => {
      this.#connecting = null;
    });
    return this.#connecting;
  }

  #withTimeout(connecting: Promise<UpstreamSocket>): Promise<UpstreamSocket> {
    return new Promise((resolve, reject) => {
      const timer = this.#timers.setTimeout(() => {
        reject(new Error(`timed out after ${this.options.connectTimeoutMs} ms`));
        // A socket that arrives after the timeout is closed, not leaked.
        connecting.then((late) => late.close(1000, "connect timeout"), () => undefined);
      }, this.options.connectTimeoutMs);
      connecting.then(
        (socket) => {
          this.#timers.clearTimeout(timer);
          resolve(socket);
        },
        (err: unknown) => {
          this.#timers.clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  #adopt(socket: UpstreamSocket): void {
    if (!this.#wanted) {
      socket.close(1000, "no clients");
      return;
    }
    this.#socket = socket;
    this.#status = "connected";
    this.#connects++;
    socket.addEventListener("message", (event) => {
      if (this.#socket !== socket) return;
      if (event.data instanceof ArrayBuffer) this.options.hooks.message(event.data);
      else if (ArrayBuffer.isView(event.data)) {
        const view = event.data;
        this.options.hooks.message(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength) as ArrayBuffer);
      } else this.options.hooks.message(new ArrayBuffer(0)); // text: reported as undecodable by the caller
    });
    const lost = (why: string) => () => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      this.#clearHealthyTimer();
      if (this.#wanted) this.#scheduleRetry(why);
    };
    socket.addEventListener("close", lost("upstream closed the connection"));
    socket.addEventListener("error", lost("upstream connection error"));
    this.#clearHealthyTimer();
    this.#healthyTimer = this.#timers.setTimeout(() => {
      this.#healthyTimer = null;
      if (this.#socket === socket) this.options.backoff.reset();
    }, this.options.healthyAfterMs);
    this.options.hooks.connected();
    this.#flush();
  }

  #scheduleRetry(reason: string): void {
    if (!this.#wanted || this.#retryTimer !== null) return;
    const { delayMs } = this.options.backoff.next();
    this.#status = "reconnecting";
    this.#retryTimer = this.#timers.setTimeout(() => void this.#connectNow(), delayMs);
    this.options.hooks.reconnecting(delayMs, reason);
  }

  #flush(): void {
    const queue = this.options.queue;
    if (!this.#socket) return;
    const stale = queue.dropStale(this.#timers.now()).length;
    if (stale > 0) this.options.hooks.stale?.(stale);
    while (this.#socket && queue.length > 0) {
      const next = queue.peek()!;
      try {
        this.#socket.send(next.data);
      } catch {
        // The socket died under us; the message stays queued for the next connection.
        const socket = this.#socket;
        this.#socket = null;
        this.#clearHealthyTimer();
        try {
          socket.close(1011, "send failed");
        } catch {
          // ignore
        }
        this.#scheduleRetry("send failed");
        return;
      }
      queue.shift();
      this.#sent++;
      this.options.hooks.sent?.(next.trackId);
    }
  }

  #clearHealthyTimer(): void {
    if (this.#healthyTimer !== null) this.#timers.clearTimeout(this.#healthyTimer);
    this.#healthyTimer = null;
  }

  #cancelTimers(): void {
    if (this.#retryTimer !== null) this.#timers.clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#clearHealthyTimer();
  }
}
