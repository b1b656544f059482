/**
 * The upstream link: one WebSocket to the Dataspike API per participant, a bounded send queue in
 * front of it, and reconnection with backoff. Pure: the socket factory and timers are injected, so
 * it tests in Node with fakes.
 *
 * The connect *promise* is kept (not only the socket), so messages arriving together share one
 * connection attempt.
 *
 * Faults never stop the link and each is reported once (hooks.fault): an upgrade that is refused or
 * fails ("refused"), a connection that closes or errors ("closed"), an upgrade that hangs past the
 * connect timeout or a connection that answers nothing for stallTimeoutMs after a send ("stalled";
 * the link closes it and reconnects), a text frame ("text"; skipped), and a message whose send()
 * throws on a fresh connection ("send_failed": that message is dropped, so one unsendable message
 * cannot tear the link down again and again). Garbage binary frames are the caller's to count.
 */
import type { Backoff } from "../shared/backoff.js";
import type { SendQueue } from "./send-queue.js";
import { realTimers, type Timers } from "../shared/timers.js";

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

export type UpstreamFault = "refused" | "closed" | "stalled" | "text" | "send_failed";

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
  /** Something went wrong with the upstream; the link carries on (see the module comment). */
  fault?(kind: UpstreamFault, reason: string): void;
}

export interface UpstreamLinkOptions {
  connect: () => Promise<UpstreamSocket>;
  backoff: Backoff;
  queue: SendQueue<Outgoing>;
  healthyAfterMs: number;
  connectTimeoutMs: number;
  /** A connection that answers nothing this long after a send is closed and replaced; 0 = never. */
  stallTimeoutMs?: number;
  hooks: UpstreamHooks;
  timers?: Timers;
}

/** Sends that throw in a row on a connection that never sent anything before it is given up on. */
const MAX_FRESH_SEND_FAILURES = 3;

class ConnectTimeout extends Error {}

export class UpstreamLink {
  #socket: UpstreamSocket | null = null;
  #connecting: Promise<void> | null = null;
  #retryTimer: unknown = null;
  #healthyTimer: unknown = null;
  #stallTimer: unknown = null;
  /** Messages sent on the current connection, and throws in a row while it had sent none. */
  #sentHere = 0;
  #freshFailures = 0;
  #wanted = false;
  #status: UpstreamStatus = "idle";
  readonly #timers: Timers;

  constructor(private readonly options: UpstreamLinkOptions) {
    this.#timers = options.timers ?? realTimers;
  }

  get status(): UpstreamStatus {
    return this.#status;
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
      (err: unknown) => {
        const reason = `connect failed: ${err instanceof Error ? err.message : String(err)}`;
        if (this.#wanted) this.options.hooks.fault?.(err instanceof ConnectTimeout ? "stalled" : "refused", reason);
        this.#scheduleRetry(reason);
      },
    );
    this.#connecting = attempt.finally(() => {
      this.#connecting = null;
    });
    return this.#connecting;
  }

  #withTimeout(connecting: Promise<UpstreamSocket>): Promise<UpstreamSocket> {
    return new Promise((resolve, reject) => {
      const timer = this.#timers.setTimeout(() => {
        reject(new ConnectTimeout(`timed out after ${this.options.connectTimeoutMs} ms`));
        // A socket that arrives after the timeout is closed, not leaked.
        connecting.then(
          (late) => late.close(1000, "connect timeout"),
          () => undefined,
        );
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
    this.#sentHere = 0;
    this.#freshFailures = 0;
    socket.addEventListener("message", (event) => {
      if (this.#socket !== socket) return;
      this.#answered();
      if (event.data instanceof ArrayBuffer) this.options.hooks.message(event.data);
      else if (ArrayBuffer.isView(event.data)) {
        const view = event.data;
        this.options.hooks.message(
          view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength) as ArrayBuffer,
        );
      } else
        this.options.hooks.fault?.("text", "the upstream sent a text frame (skipped: the API speaks binary protobuf)");
    });
    const lost = (why: string) => () => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      this.#clearHealthyTimer();
      this.#clearStallTimer();
      if (!this.#wanted) return;
      this.options.hooks.fault?.("closed", why);
      this.#scheduleRetry(why);
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
      } catch (err) {
        const reason = `send failed: ${err instanceof Error ? err.message : String(err)}`;
        if (this.#sentHere === 0 && this.#freshFailures < MAX_FRESH_SEND_FAILURES - 1) {
          // A fresh connection refused this very message: the message is the problem, not the
          // link. Dropped and counted, so it cannot tear down connection after connection.
          this.#freshFailures++;
          queue.shift();
          this.options.hooks.fault?.("send_failed", reason);
          continue;
        }
        // The socket died under us; the message stays queued for the next connection (where it
        // is dropped if it fails again before anything else went through).
        this.#drop(1011, "send failed");
        this.#scheduleRetry("send failed");
        return;
      }
      queue.shift();
      this.#sentHere++;
      this.#awaitAnswer();
      this.options.hooks.sent?.(next.trackId);
    }
  }

  /** Something came back: the connection is not stalled. */
  #answered(): void {
    this.#clearStallTimer();
  }

  /** A send went out: unless an answer is awaited already, the connection has stallTimeoutMs to answer. */
  #awaitAnswer(): void {
    const timeoutMs = this.options.stallTimeoutMs ?? 0;
    if (timeoutMs <= 0 || this.#stallTimer !== null) return;
    const socket = this.#socket;
    this.#stallTimer = this.#timers.setTimeout(() => {
      this.#stallTimer = null;
      if (this.#socket !== socket || !this.#wanted) return;
      const reason = `upstream stalled: no answer for ${timeoutMs} ms after a send`;
      this.options.hooks.fault?.("stalled", reason);
      this.#drop(1011, "upstream stalled");
      this.#scheduleRetry(reason);
    }, timeoutMs);
  }

  /** Forgets the current socket and closes it. */
  #drop(code: number, reason: string): void {
    const socket = this.#socket;
    this.#socket = null;
    this.#clearHealthyTimer();
    this.#clearStallTimer();
    try {
      socket?.close(code, reason);
    } catch {
      // already closed
    }
  }

  #clearStallTimer(): void {
    if (this.#stallTimer !== null) this.#timers.clearTimeout(this.#stallTimer);
    this.#stallTimer = null;
  }

  #clearHealthyTimer(): void {
    if (this.#healthyTimer !== null) this.#timers.clearTimeout(this.#healthyTimer);
    this.#healthyTimer = null;
  }

  #cancelTimers(): void {
    if (this.#retryTimer !== null) this.#timers.clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#clearHealthyTimer();
    this.#clearStallTimer();
  }
}
