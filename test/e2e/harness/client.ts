/**
 * A small `ws` client for the service's participant stream (docs/DESIGN.md §5): sends protobuf
 * ClientMessages, collects the JSON events the service pushes back, with receipt times.
 */
import WebSocket from "ws";
import { deepfake_edge } from "../../../src/gen/ingest.js";

const v1 = deepfake_edge.v1;
export const PixelFormat = v1.PixelFormat;
export const VideoSource = v1.VideoSource;

/** One JSON event from the service; `type` is checked, the rest is inspected by tests. */
export interface ServiceEvent {
  type: string;
  [field: string]: unknown;
}

export interface ReceivedEvent {
  atMs: number;
  event: ServiceEvent;
}

export interface VideoFrameInput {
  trackId: string;
  width: number;
  height: number;
  format: deepfake_edge.v1.PixelFormat;
  source: deepfake_edge.v1.VideoSource;
  data: Uint8Array;
  timestampMs: number;
}

export interface HelloInput {
  client?: string;
  vad?: boolean;
  honorsRate?: boolean;
}

function toWsUrl(baseUrl: string): string {
  return baseUrl.replace(/^http/, "ws");
}

export function streamUrl(baseUrl: string, participantId: string): string {
  return `${toWsUrl(baseUrl)}/v1/participants/${encodeURIComponent(participantId)}/stream`;
}

export class ParticipantClient {
  readonly events: ReceivedEvent[] = [];
  /** Messages that were not a JSON object with a string `type` (should stay empty). */
  readonly malformed: { atMs: number; text: string }[] = [];
  closed: { atMs: number; code: number; reason: string } | null = null;
  readonly #waiters = new Set<() => void>();

  constructor(readonly socket: WebSocket) {
    socket.on("message", (data, isBinary) => {
      const atMs = Date.now();
      if (isBinary) {
        this.malformed.push({ atMs, text: `<binary ${rawLength(data)} bytes>` });
      } else {
        const text = rawToString(data);
        const event = parseEvent(text);
        if (event === null) this.malformed.push({ atMs, text: text.slice(0, 500) });
        else this.events.push({ atMs, event });
      }
      this.#notify();
    });
    socket.on("close", (code, reason) => {
      this.closed = { atMs: Date.now(), code, reason: reason.toString() };
      this.#notify();
    });
    socket.on("error", () => this.#notify());
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  ofType(type: string): ReceivedEvent[] {
    return this.events.filter((e) => e.event.type === type);
  }

  /**
   * Resolves with the first event (from index `fromIndex`, default 0) matching `predicate`,
   * waiting up to `timeoutMs`. The error lists the events received, to make failures readable.
   */
  waitFor(predicate: (event: ServiceEvent) => boolean, timeoutMs: number, fromIndex = 0): Promise<ReceivedEvent> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        for (let i = fromIndex; i < this.events.length; i++) {
          const received = this.events[i];
          if (received !== undefined && predicate(received.event)) {
            cleanup();
            resolve(received);
            return true;
          }
        }
        if (this.closed !== null) {
          cleanup();
          reject(new Error(`socket closed (${this.closed.code} ${this.closed.reason}) before the event arrived; got ${this.describe(fromIndex)}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for an event; got ${this.describe(fromIndex)}`));
      }, timeoutMs);
      const listener = (): void => {
        check();
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(listener);
      };
      if (!check()) this.#waiters.add(listener);
    });
  }

  /** Like waitFor, but only events that arrive after this call. */
  next(predicate: (event: ServiceEvent) => boolean, timeoutMs: number): Promise<ReceivedEvent> {
    return this.waitFor(predicate, timeoutMs, this.events.length);
  }

  describe(fromIndex = 0): string {
    const shown = this.events.slice(fromIndex).map((e) => JSON.stringify(e.event));
    return shown.length === 0 ? "no events" : shown.join(", ");
  }

  sendHello(hello: HelloInput = {}): void {
    this.sendMessage({ hello: { client: hello.client ?? "e2e-test", vad: hello.vad ?? false, honorsRate: hello.honorsRate ?? false } });
  }

  /** Sends one VideoFrame ClientMessage; returns its size in bytes. */
  sendVideo(frame: VideoFrameInput): number {
    return this.sendMessage({ video: frame });
  }

  sendMessage(message: deepfake_edge.v1.ClientMessage.$Properties): number {
    const bytes = v1.ClientMessage.encode(message).finish();
    this.socket.send(bytes, { binary: true });
    return bytes.length;
  }

  /** Sends arbitrary text or bytes (for bad-input tests). */
  sendRaw(data: string | Uint8Array): void {
    this.socket.send(data, { binary: typeof data !== "string" });
  }

  close(code = 1000, reason = "test done"): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.socket.terminate();
        resolve();
      }, 3_000);
      this.socket.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.close(code, reason);
    });
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

export class UpgradeRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`upgrade refused with HTTP ${status}: ${body}`);
    this.name = "UpgradeRefused";
  }
}

export interface ConnectOptions {
  /**
   * Offer permessage-deflate (default true, as `ws` and browsers do). Benchmarks that push raw
   * frames turn it off: compressing tens of MB/s would make the client the bottleneck.
   */
  perMessageDeflate?: boolean;
}

/** Opens the participant stream. Rejects with UpgradeRefused when the service answers non-101. */
export function connectParticipant(baseUrl: string, participantId: string, token?: string, options: ConnectOptions = {}): Promise<ParticipantClient> {
  return connectUrl(streamUrl(baseUrl, participantId), token === undefined ? {} : { authorization: `Bearer ${token}` }, options);
}

export function connectUrl(url: string, headers: Record<string, string> = {}, options: ConnectOptions = {}): Promise<ParticipantClient> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers, maxPayload: 4 * 1024 * 1024, perMessageDeflate: options.perMessageDeflate ?? true });
    // Attach before "open" so the first events (ready, upstream) are never missed.
    const client = new ParticipantClient(socket);
    socket.once("open", () => resolve(client));
    socket.once("unexpected-response", (_req, res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        socket.terminate();
        reject(new UpgradeRefused(res.statusCode ?? 0, Buffer.concat(chunks).toString().slice(0, 500)));
      });
    });
    socket.once("error", (err) => reject(err));
  });
}

/** The HTTP status an upgrade attempt gets (101 when accepted; the socket is then closed). */
export async function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  try {
    const client = await connectUrl(url, headers);
    await client.close();
    return { status: 101, body: "" };
  } catch (err) {
    if (err instanceof UpgradeRefused) return { status: err.status, body: err.body };
    throw err;
  }
}

/** POST /v1/tokens with the admin key. */
export async function mintConnectToken(
  baseUrl: string,
  adminKey: string,
  participantId: string,
  ttlS = 600,
): Promise<{ token: string; expires_at: unknown; status: number }> {
  const res = await fetch(`${baseUrl}/v1/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
    body: JSON.stringify({ participant_id: participantId, ttl_s: ttlS }),
  });
  const text = await res.text();
  if (res.status !== 200 && res.status !== 201) throw new Error(`POST /v1/tokens answered ${res.status}: ${text}`);
  const body = JSON.parse(text) as unknown;
  if (typeof body !== "object" || body === null || typeof (body as { token?: unknown }).token !== "string") {
    throw new Error(`POST /v1/tokens returned no token: ${text}`);
  }
  const { token, expires_at } = body as { token: string; expires_at?: unknown };
  return { token, expires_at, status: res.status };
}

/**
 * A width x height RGB24 test frame: a gradient that shifts with the frame index, so consecutive
 * frames differ (as camera frames do).
 */
export function makeRgbFrame(index: number, width = 640, height = 480): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  const shift = index * 3;
  let i = 0;
  for (let y = 0; y < height; y++) {
    const g = (y * 255) / height;
    for (let x = 0; x < width; x++) {
      data[i++] = ((x * 255) / width + shift) & 0xff;
      data[i++] = (g + shift * 2) & 0xff;
      data[i++] = ((x + y + shift) >> 2) & 0xff;
    }
  }
  return data;
}

export interface VideoStreamOptions {
  trackId: string;
  fps: number;
  source?: deepfake_edge.v1.VideoSource;
  width?: number;
  height?: number;
  /** Skip a tick (and count it) when the socket has this much unsent data. */
  maxBufferedBytes?: number;
}

export interface VideoStreamStats {
  sent: number;
  skipped: number;
  bytes: number;
  startedAtMs: number;
  stoppedAtMs: number | null;
}

/** Streams RGB24 frames at a fixed rate until stopped; `stats` is live. */
export function startVideoStream(client: ParticipantClient, options: VideoStreamOptions): { stats: VideoStreamStats; stop(): VideoStreamStats } {
  const width = options.width ?? 640;
  const height = options.height ?? 480;
  const maxBuffered = options.maxBufferedBytes ?? 8 * 1024 * 1024;
  const stats: VideoStreamStats = { sent: 0, skipped: 0, bytes: 0, startedAtMs: Date.now(), stoppedAtMs: null };
  const tick = (): void => {
    if (!client.isOpen) return;
    if (client.bufferedAmount > maxBuffered) {
      stats.skipped++;
      return;
    }
    stats.bytes += client.sendVideo({
      trackId: options.trackId,
      width,
      height,
      format: PixelFormat.RGB24,
      source: options.source ?? VideoSource.CAMERA,
      data: makeRgbFrame(stats.sent, width, height),
      timestampMs: Date.now(),
    });
    stats.sent++;
  };
  tick();
  const timer = setInterval(tick, 1000 / options.fps);
  return {
    stats,
    stop(): VideoStreamStats {
      if (stats.stoppedAtMs === null) {
        clearInterval(timer);
        stats.stoppedAtMs = Date.now();
      }
      return stats;
    },
  };
}

function rawToString(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString("utf8");
  return data.toString("utf8");
}

function rawLength(data: WebSocket.RawData): number {
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0);
  return data.byteLength;
}

function parseEvent(text: string): ServiceEvent | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  if (typeof (value as { type?: unknown }).type !== "string") return null;
  return value as ServiceEvent;
}
