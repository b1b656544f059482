/**
 * A fake Dataspike streaming API (docs/DESIGN.md §3) for end-to-end tests, in plain Node with `ws`.
 *
 * It records every upgrade attempt and every FrameRequest it receives (JPEGs are decoded to check
 * their size; the bytes themselves are never logged), checks the Bearer key, and can be steered:
 * refuse upgrades with 503, drop every socket, push ResultEvents, or answer each frame automatically.
 */
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { Duplex } from "node:stream";
import { join } from "node:path";
import { WebSocketServer, WebSocket } from "ws";
import decodeJpeg, { init as initJpegDecoder } from "@jsquash/jpeg/decode.js";
import { deepfake_streaming } from "../../../src/gen/dataspike.js";
import { readJpegHeader } from "../../../src/media/jpeg-markers.js";
import { REPO_ROOT } from "./wrangler-dev.js";

const Schema = deepfake_streaming.DeepfakeStreamingSchema;
export const FrameFormat = Schema.FrameRequestFormat;
export const ResultType = Schema.ResultEventType;
export type ResultTypeName = keyof typeof Schema.ResultEventType;

export const UPSTREAM_PATH = "/api/v4/deepfake/stream";

export interface UpgradeAttempt {
  atMs: number;
  authorization: string | undefined;
  outcome: "accepted" | "unauthorized" | "unavailable" | "not_found";
}

export interface ReceivedFrame {
  atMs: number;
  participantId: string;
  trackId: string;
  timestampMs: number;
  format: number;
  bytes: number;
  /** Set once the JPEG was decoded (format JPEG only). */
  width?: number;
  height?: number;
  decodeError?: string;
  /** The PCM bytes (s16le mono 16 kHz), kept only with `keepPcm` (format PCM only). */
  data?: Uint8Array;
}

export interface FakeUpstreamOptions {
  /** The key the service must present as `Authorization: Bearer <expectedKey>`. */
  expectedKey: string;
  /** Answer every frame with a ResultEvent of this type. */
  autoRespond?: ResultTypeName | null;
  /** Keep each PCM frame's bytes in `frame.data` (opt-in: audio tests analyse them; off by default). */
  keepPcm?: boolean;
  /**
   * Decode every JPEG to check it (default true). false: only its header is read for the size, so
   * benchmarks with hundreds of participants do not spend the load generator's CPU on decoding.
   */
  decodeJpegs?: boolean;
}

/** int64 fields decode as Long when the `long` package is present, else as number. */
export function int64ToNumber(value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "object" && value !== null && "toNumber" in value) {
    return (value as { toNumber(): number }).toNumber();
  }
  return Number.NaN;
}

let decoderReady: Promise<void> | null = null;
/** The decoder's last complaint (emscripten printErr), kept instead of printed to the test output. */
let lastDecoderMessage = "";

/** Initialises the mozjpeg WASM decoder once per process from the file in node_modules. */
function ensureJpegDecoder(): Promise<void> {
  decoderReady ??= (async () => {
    const wasmBytes = readFileSync(join(REPO_ROOT, "node_modules/@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm"));
    const wasmModule = await WebAssembly.compile(wasmBytes);
    // decode.js accepts (module, options); its .d.ts only declares (options).
    const init = initJpegDecoder as unknown as (module: WebAssembly.Module, options: { printErr: (text: string) => void }) => Promise<void>;
    await init(wasmModule, {
      printErr: (text) => {
        lastDecoderMessage = text;
      },
    });
  })();
  return decoderReady;
}

/** Decodes a JPEG in Node and returns its dimensions. */
export async function jpegSize(bytes: Uint8Array): Promise<{ width: number; height: number }> {
  await ensureJpegDecoder();
  const copy = bytes.slice().buffer;
  lastDecoderMessage = "";
  try {
    const image = await decodeJpeg(copy);
    return { width: image.width, height: image.height };
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(lastDecoderMessage === "" ? reason : `${reason}: ${lastDecoderMessage}`);
  }
}

export class FakeUpstream {
  readonly upgrades: UpgradeAttempt[] = [];
  readonly frames: ReceivedFrame[] = [];
  /** Text messages and binary messages that were not a FrameRequest. */
  readonly rejectedMessages: { atMs: number; reason: string }[] = [];
  readonly sockets = new Set<WebSocket>();

  #accepting = true;
  #autoRespond: ResultTypeName | null;
  #autoMessage = "auto";
  readonly #keepPcm: boolean;
  #decodeJpegs = true;
  /** The socket each participant's FrameRequests arrived on (learnt from the first one). */
  readonly #socketOf = new Map<string, WebSocket>();
  readonly #pendingDecodes = new Set<Promise<void>>();

  private constructor(
    readonly port: number,
    private readonly server: Server,
    private readonly wss: WebSocketServer,
    private readonly expectedKey: string,
    autoRespond: ResultTypeName | null,
    keepPcm: boolean,
  ) {
    this.#autoRespond = autoRespond;
    this.#keepPcm = keepPcm;
  }

  /** http://127.0.0.1:<port>/api/v4/deepfake/stream (workerd opens WebSockets with fetch, over http). */
  get url(): string {
    return `http://127.0.0.1:${this.port}${UPSTREAM_PATH}`;
  }

  static async start(options: FakeUpstreamOptions): Promise<FakeUpstream> {
    const server = createServer((_req, res) => {
      res.writeHead(426, { "content-type": "text/plain" }).end("WebSocket upgrade required");
    });
    const wss = new WebSocketServer({ noServer: true, maxPayload: 8 * 1024 * 1024 });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("fake upstream: no port");
    const fake = new FakeUpstream(address.port, server, wss, options.expectedKey, options.autoRespond ?? null, options.keepPcm ?? false);
    fake.#decodeJpegs = options.decodeJpegs ?? true;
    server.on("upgrade", (req, socket, head) => fake.#onUpgrade(req, socket, head));
    return fake;
  }

  /** false: every upgrade is refused with HTTP 503 (still recorded). */
  setAccepting(accepting: boolean): void {
    this.#accepting = accepting;
  }

  setAutoRespond(type: ResultTypeName | null, message = "auto"): void {
    this.#autoRespond = type;
    this.#autoMessage = message;
  }

  /** Terminates every open socket (no close handshake, like a network drop). */
  dropAll(): number {
    const count = this.sockets.size;
    for (const socket of this.sockets) socket.terminate();
    this.sockets.clear();
    return count;
  }

  /** Sends a ResultEvent to every connected socket; returns how many got it. */
  sendResult(type: ResultTypeName, participantId: string, trackId: string, message: string): number {
    const bytes = Schema.ResultEvent.encode({ type: ResultType[type], participantId, trackId, message }).finish();
    let sent = 0;
    for (const socket of this.sockets) {
      if (socket.readyState === WebSocket.OPEN) {
        socket.send(bytes, { binary: true });
        sent++;
      }
    }
    return sent;
  }

  /**
   * Sends a ResultEvent only on the socket that carried `participantId`'s FrameRequests (known once
   * one arrived); returns whether it was sent. With many participants, `sendResult` would reach every
   * object (each counting it as misrouted).
   */
  sendResultTo(type: ResultTypeName, participantId: string, trackId: string, message: string): boolean {
    const socket = this.#socketOf.get(participantId);
    if (socket === undefined || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(Schema.ResultEvent.encode({ type: ResultType[type], participantId, trackId, message }).finish(), { binary: true });
    return true;
  }

  /** True once a FrameRequest of this participant arrived on a socket that is still open. */
  knows(participantId: string): boolean {
    return this.#socketOf.get(participantId)?.readyState === WebSocket.OPEN;
  }

  /** Frames received at or after `sinceMs`, optionally for one track. */
  framesSince(sinceMs: number, trackId?: string): ReceivedFrame[] {
    return this.frames.filter((f) => f.atMs >= sinceMs && (trackId === undefined || f.trackId === trackId));
  }

  /** Waits until every JPEG received so far has been decoded. */
  async settle(): Promise<void> {
    while (this.#pendingDecodes.size > 0) await Promise.all([...this.#pendingDecodes]);
  }

  /** Polls `predicate` until true or throws after `timeoutMs`. */
  async waitFor(predicate: () => boolean, timeoutMs: number, what = "condition"): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`fake upstream: timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const atMs = Date.now();
    const authorization = req.headers.authorization;
    const path = new URL(req.url ?? "/", "http://fake").pathname;
    const refuse = (status: number, text: string, outcome: UpgradeAttempt["outcome"]): void => {
      this.upgrades.push({ atMs, authorization, outcome });
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${text.length}\r\n\r\n${text}`);
    };
    if (path !== UPSTREAM_PATH) return refuse(404, "Not Found", "not_found");
    if (authorization !== `Bearer ${this.expectedKey}`) return refuse(401, "Unauthorized", "unauthorized");
    if (!this.#accepting) return refuse(503, "Service Unavailable", "unavailable");
    this.upgrades.push({ atMs, authorization, outcome: "accepted" });
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.sockets.add(ws);
      ws.on("message", (data, isBinary) => this.#onMessage(ws, data, isBinary));
      ws.on("close", () => this.sockets.delete(ws));
      ws.on("error", () => this.sockets.delete(ws));
    });
  }

  #onMessage(ws: WebSocket, data: WebSocket.RawData, isBinary: boolean): void {
    const atMs = Date.now();
    if (!isBinary) {
      this.rejectedMessages.push({ atMs, reason: "text message" });
      return;
    }
    const bytes = toBytes(data);
    let request: deepfake_streaming.DeepfakeStreamingSchema.FrameRequest;
    try {
      request = Schema.FrameRequest.decode(bytes);
    } catch (err) {
      this.rejectedMessages.push({ atMs, reason: `not a FrameRequest: ${(err as Error).message}` });
      return;
    }
    const frame: ReceivedFrame = {
      atMs,
      participantId: request.participantId,
      trackId: request.trackId,
      timestampMs: int64ToNumber(request.timestampMs),
      format: request.format,
      bytes: request.data.length,
    };
    // A copy: the decoded bytes may be a view into the socket's receive buffer.
    if (this.#keepPcm && frame.format === FrameFormat.PCM) frame.data = request.data.slice();
    this.frames.push(frame);
    if (frame.participantId !== "") this.#socketOf.set(frame.participantId, ws);
    if (frame.format === FrameFormat.JPEG && !this.#decodeJpegs) {
      try {
        const header = readJpegHeader(request.data);
        frame.width = header.width;
        frame.height = header.height;
      } catch (err) {
        frame.decodeError = (err as Error).message;
      }
    } else if (frame.format === FrameFormat.JPEG) {
      const pending = jpegSize(request.data)
        .then(
          ({ width, height }) => {
            frame.width = width;
            frame.height = height;
          },
          (err: unknown) => {
            frame.decodeError = err instanceof Error ? err.message : String(err);
          },
        )
        .finally(() => this.#pendingDecodes.delete(pending));
      this.#pendingDecodes.add(pending);
    }
    const auto = this.#autoRespond;
    if (auto !== null && ws.readyState === WebSocket.OPEN) {
      const reply = Schema.ResultEvent.encode({
        type: ResultType[auto],
        participantId: frame.participantId,
        trackId: frame.trackId,
        message: this.#autoMessage,
      }).finish();
      ws.send(reply, { binary: true });
    }
  }
}

function toBytes(data: WebSocket.RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** The vars of a production-mode service (DEV_MODE off, every secret set) pointed at this fake upstream. */
export function productionVars(fake: FakeUpstream, keys: { apiKey: string; adminKey: string }, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATASPIKE_WS_URL: fake.url,
    DATASPIKE_API_KEY: keys.apiKey,
    CONNECT_TOKEN_SECRET: "e2e-connect-token-secret-0123456789",
    ADMIN_API_KEY: keys.adminKey,
    DEV_MODE: "false",
    ...extra,
  };
}

