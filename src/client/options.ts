/**
 * Options, results and statistics of DeepfakeEdgeClient, with the SDK's defaults (units in the
 * names). The reconnect defaults are the service's own (src/config/limits.ts, docs/DESIGN.md §4).
 */
import type { Timers } from "../shared/timers.js";
import type { SocketFactory } from "./socket.js";

/** A connection that stays open this long resets the reconnect backoff. */
export const CLIENT_HEALTHY_AFTER_MS = 10_000;
/**
 * Video and audio are dropped while the socket has more than this much unsent data: room for two of
 * the largest raw frames the service accepts by default (1920x1080 RGBA, 8.3 MB each).
 */
export const CLIENT_MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

/** Close codes after which the client does not reconnect: normal end, unsupported data, policy, too big. */
export const TERMINAL_CLOSE_CODES: readonly number[] = [1000, 1003, 1008, 1009];

export type TokenProvider = () => string | undefined | Promise<string | undefined>;
export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting" | "closed";
export type DropReason =
  | "disconnected"
  | "not_ready"
  | "rate_limited"
  | "backpressure"
  | "too_large"
  | "audio_rejected"
  /** Audio while the service said it does not want speech (the `audio` event: the pause after a chunk). */
  | "audio_not_wanted";
export type SendResult = "sent" | DropReason;
/** What a captureVideo renderer returns: the bytes, or the bytes with the size it actually rendered. */
export type RenderedFrame = Uint8Array | { data: Uint8Array; width?: number; height?: number };

export interface StateChange {
  state: ConnectionState;
  previous: ConnectionState;
  /** With `reconnecting`: the wait before the next attempt. */
  retryInMs?: number;
  /** Close code and reason of the socket that went away, when there was one. */
  code?: number;
  reason?: string;
  /** With `closed`: why the client gave up (AuthError for a refused token). */
  error?: Error;
}

export interface ClientOptions {
  /** The service: `https://edge.example.com` (or ws(s)://). */
  baseUrl: string;
  participantId: string;
  /** A connect token, or a function called before every attempt (so it can mint a fresh one). */
  token?: string | TokenProvider;
  /**
   * Defaults to the browser's WebSocket (token as the subprotocol `bearer.<token>`); in Node use
   * nodeSocketFactory(WebSocket).
   */
  socketFactory?: SocketFactory;
  /** Sent as Hello on every connection. `vad: true` promises Speaking messages (setSpeaking). */
  hello?: { client?: string; vad?: boolean };
  /** Drop video client-side to the announced rate (default true; Hello.honors_rate says so). */
  honorRate?: boolean;
  /** false: never reconnect. Defaults: 1 s doubling to 10 s, +50 % jitter, reset after 10 s open. */
  reconnect?: false | { initialMs?: number; maxMs?: number; jitterRatio?: number; healthyAfterMs?: number };
  /** Whether to reconnect after the server closed an open socket; default: not after TERMINAL_CLOSE_CODES. */
  shouldReconnect?: (code: number, reason: string) => boolean;
  maxBufferedBytes?: number;
  /**
   * Largest message sent; bigger ones are dropped as `too_large`. Default: the service's default
   * cap (1920x1080 RGBA plus framing, 8 359 936 bytes); match a deployment's VIDEO_MAX_WIDTH/HEIGHT.
   */
  maxMessageBytes?: number;
  /**
   * Browsers hide the status of a refused upgrade; after a failed attempt the client can ask with a
   * plain GET (401 or 403 = AuthError). Default: on when `fetch` exists. Needs a server that checks the
   * token before answering 426 to a non-upgrade request.
   */
  probeAuth?: boolean;
  /**
   * Consecutive audio frames are joined into one message of this many milliseconds (default 100;
   * 0 sends each frame as given; at most 1000). The service's cost is mostly per message, so
   * 100 ms messages cost it about a fifth of 20 ms ones; audio is gathered into 3 s chunks anyway.
   */
  audioBatchMs?: number;
  /** Injected clock and timers (tests, benchmarks); `now` must be monotonic milliseconds. */
  timers?: Timers;
  random?: () => number;
}

export interface ClientStats {
  connects: number;
  reconnects: number;
  /**
   * Messages on the wire: audioFrames counts AudioFrame messages (each up to audioBatchMs of the
   * frames given to sendAudio).
   */
  sent: {
    messages: number;
    bytes: number;
    videoFrames: number;
    videoBytes: number;
    audioFrames: number;
    audioBytes: number;
  };
  dropped: Record<DropReason, number>;
  /** `error` events received from the server. */
  serverErrors: number;
  /** Text the client could not parse as a known event (logged nowhere, counted here). */
  badEvents: number;
}

/** Statistics of a client that has sent and dropped nothing yet. */
export function emptyClientStats(): ClientStats {
  const dropped = { disconnected: 0, not_ready: 0, rate_limited: 0, backpressure: 0, too_large: 0 } as const;
  return {
    connects: 0,
    reconnects: 0,
    sent: { messages: 0, bytes: 0, videoFrames: 0, videoBytes: 0, audioFrames: 0, audioBytes: 0 },
    dropped: { ...dropped, audio_rejected: 0, audio_not_wanted: 0 },
    serverErrors: 0,
    badEvents: 0,
  };
}
