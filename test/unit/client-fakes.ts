/**
 * Test fakes: a virtual clock with timers (SDK and upstream-link tests), and a scripted WebSocket that records
 * what the client sends (decoded as ClientMessages) and lets the test play the server.
 */
import { deepfake_edge } from "../../src/gen/ingest";
import type { Timers } from "../../src/shared/timers";
import type { SocketFactory, WebSocketLike } from "../../src/client/socket";
import { DeepfakeEdgeClient } from "../../src/client/client";

const v1 = deepfake_edge.v1;

/** Lets pending promise callbacks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

/** Timers on a virtual clock; `advance` fires due timers in deadline order, settling promises in between. */
export class FakeClock implements Timers {
  #now = 0;
  #nextId = 1;
  readonly #timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.#now;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.#now + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }
  get pending(): number {
    return this.#timers.size;
  }
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await settle();
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.#timers) if (entry[1].at <= target && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      this.#timers.delete(next[0]);
      this.#now = next[1].at;
      next[1].fn();
      await settle();
    }
    this.#now = target;
  }
}

type Listener = (event: never) => void;
export type SentMessage = ReturnType<typeof v1.ClientMessage.decode>;

export class FakeSocket implements WebSocketLike {
  readyState = 0;
  bufferedAmount = 0;
  binaryType = "blob";
  readonly raw: Uint8Array[] = [];
  closedByClient: { code?: number; reason?: string } | null = null;
  readonly #listeners = new Map<string, Listener[]>();

  constructor(
    readonly url: string,
    readonly token: string | undefined,
    readonly openedAtMs: number,
  ) {}

  send(data: Uint8Array): void {
    if (this.readyState !== 1) throw new Error("send on a socket that is not open");
    this.raw.push(data.slice());
  }
  close(code?: number, reason?: string): void {
    this.closedByClient ??= { code, reason };
    this.readyState = 3;
  }
  addEventListener(type: string, listener: Listener): void {
    this.#listeners.set(type, [...(this.#listeners.get(type) ?? []), listener]);
  }

  /** Decoded ClientMessages, in order. */
  get sent(): SentMessage[] {
    return this.raw.map((bytes) => v1.ClientMessage.decode(bytes));
  }
  sentOf(kind: "hello" | "video" | "audio" | "speaking"): SentMessage[] {
    return this.sent.filter((m) => m.payload === kind);
  }

  // ---- the server's side ----
  open(): void {
    this.readyState = 1;
    this.#fire("open", {});
  }
  /** Opens and sends `ready` at `videoFps`. */
  accept(videoFps = 0.2, extra: Record<string, unknown> = {}): void {
    this.open();
    this.push({ type: "ready", participant_id: "p1", level: "clear", video_fps: videoFps, simulated: true, dev_mode: true, ...extra });
  }
  push(event: unknown): void {
    this.#fire("message", { data: typeof event === "string" ? event : JSON.stringify(event) });
  }
  pushBinary(bytes: Uint8Array): void {
    this.#fire("message", { data: bytes.buffer });
  }
  /** The server (or network) closes the socket. */
  drop(code = 1006, reason = ""): void {
    this.readyState = 3;
    this.#fire("close", { code, reason, wasClean: code !== 1006 });
  }
  /** The upgrade is refused with an HTTP status, as `ws` reports it (error, then close 1006). */
  refuse(status: number): void {
    this.readyState = 3;
    this.#fire("error", { message: `Unexpected server response: ${status}` });
    this.#fire("close", { code: 1006, reason: "" });
  }
  /** A browser-style failure: no status anywhere. */
  fail(): void {
    this.readyState = 3;
    this.#fire("error", {});
    this.#fire("close", { code: 1006, reason: "" });
  }

  #fire(type: string, event: object): void {
    for (const listener of this.#listeners.get(type) ?? []) (listener as (e: object) => void)(event);
  }
}

/** A socket factory that records every socket it opens. */
export function fakeServer(clock: FakeClock): { factory: SocketFactory; sockets: FakeSocket[]; last(): FakeSocket } {
  const sockets: FakeSocket[] = [];
  return {
    sockets,
    factory: (url, token) => {
      const socket = new FakeSocket(url, token, clock.now());
      sockets.push(socket);
      return socket;
    },
    last(): FakeSocket {
      const socket = sockets[sockets.length - 1];
      if (!socket) throw new Error("no socket was opened");
      return socket;
    },
  };
}

/** A client (participant p1) of the fake server, connecting; with `accept` its socket is open too. */
export async function connectedClient(
  server: ReturnType<typeof fakeServer>,
  clock: FakeClock,
  accept = true,
): Promise<DeepfakeEdgeClient> {
  const client = new DeepfakeEdgeClient({
    baseUrl: "http://edge.test",
    participantId: "p1",
    socketFactory: server.factory,
    timers: clock,
    probeAuth: false,
  });
  void client.connect();
  await clock.advance(0);
  if (accept) server.last().accept();
  return client;
}

/** A JPEG-looking payload (SOI marker + filler) of `bytes` bytes. */
export function fakeJpeg(bytes = 40_000): Uint8Array {
  const data = new Uint8Array(bytes).fill(0x55);
  data.set([0xff, 0xd8, 0xff, 0xe0]);
  return data;
}

/** A JWT-shaped token with the given claims (unsigned: the SDK only reads claims). */
export function fakeToken(claims: Record<string, unknown>): string {
  const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${b64({ alg: "HS256", typ: "JWT" })}.${b64(claims)}.c2ln`;
}
