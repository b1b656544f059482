/**
 * The participant object's per-message path in plain Node, built from the same modules the Durable
 * Object wires together (src/session/participant-session.ts): SocketMessages (parse, feed, counters,
 * bad-input handling) -> MediaIntake (VideoIngest, AudioIngest, the project's JPEG encoder) -> the
 * upstream link with its send queue. Only the runtime is missing: the socket, hibernation dispatch,
 * storage and the alarm are structural fakes (counters are kept in memory and "saved" to nowhere).
 *
 * Used by the skipped-frame and per-message benchmarks, and for `node --cpu-prof` profiles.
 */
import { parseConfig, type Config, type ConfigVars } from "../../src/config/config.js";
import { encodeJpeg } from "../../src/media/jpeg.js";
import { activateParticipant, type ActiveParticipant } from "../../src/session/active-participant.js";
import { Connections, type SocketRole } from "../../src/session/connections.js";
import { SessionCounters, type CounterName } from "../../src/session/counters.js";
import { SocketMessages } from "../../src/session/socket-messages.js";
import { participantLink } from "../../src/session/upstream.js";
import type { UpstreamSocket } from "../../src/upstream/link.js";

/** A hibernatable socket as far as the session's parts can tell: an attachment, send and close. */
export class FakeSocket {
  #attachment: unknown = null;
  sentText = 0;
  lastText = "";
  closed: { code?: number; reason?: string } | null = null;
  serializeAttachment(value: unknown): void {
    this.#attachment = structuredClone(value);
  }
  deserializeAttachment(): unknown {
    return this.#attachment;
  }
  send(text: string): void {
    this.sentText++;
    this.lastText = text;
  }
  close(code?: number, reason?: string): void {
    this.closed = { code, reason };
  }
}

/** The upstream socket: counts what the link hands it. */
class CountingUpstream implements UpstreamSocket {
  messages = 0;
  bytes = 0;
  send(data: ArrayBuffer | Uint8Array): void {
    this.messages++;
    this.bytes += data.byteLength;
  }
  close(): void {}
  addEventListener(): void {}
}

/** Production vars (DEV_MODE off, every secret set); `extra` overrides. */
export function benchVars(extra: Record<string, string> = {}): ConfigVars {
  return {
    DEV_MODE: "false",
    DATASPIKE_API_KEY: "bench-key",
    DATASPIKE_WS_URL: "ws://127.0.0.1:9/api/v4/deepfake/stream",
    CONNECT_TOKEN_SECRET: "bench-connect-token-secret-0123456789",
    ADMIN_API_KEY: "bench-admin-0123456789",
    ...extra,
  } as ConfigVars;
}

export interface NodeSession {
  config: Config;
  live: ActiveParticipant;
  counters: SessionCounters;
  upstream: CountingUpstream;
  /** One message from the participant's client socket, exactly as webSocketMessage hands it on. */
  receive(message: ArrayBuffer | string, nowMs: number): Promise<void>;
  socket: FakeSocket;
  /** Waits until the upstream link has connected (its connect promise resolves on a microtask). */
  ready(): Promise<void>;
}

/** `role`: the socket's role ("sfu-audio" and "sfu-video" receive Realtime SFU adapter Packets). */
export async function nodeSession(participantId: string, vars: ConfigVars = benchVars(), role: SocketRole = "client"): Promise<NodeSession> {
  const config = parseConfig(vars);
  const upstream = new CountingUpstream();
  const counters = new SessionCounters(() => undefined, { setTimeout: () => null, clearTimeout: () => undefined });
  const count = (name: CounterName, by?: number): void => counters.add(name, by);
  const link = participantLink(config, {
    participantId: () => participantId,
    dial: () => Promise.resolve(upstream),
    broadcast: () => undefined,
    count,
    message: () => undefined,
    trackSent: () => undefined,
  });
  const socket = new FakeSocket();
  const host = { getWebSockets: () => [socket], getTags: () => [role] };
  const sockets = new Connections<FakeSocket>(host);
  sockets.attach(socket, role, Date.now());
  const live = activateParticipant(config, { participantId, level: "clear", sinceMs: 0 }, [], Date.now(), encodeJpeg, {
    send: (bytes, trackId) => link.send(bytes, trackId),
    count: (name) => counters.add(name),
  });
  const messages = new SocketMessages<FakeSocket>({
    config,
    sockets,
    live: () => live,
    wantUpstream: () => link.start(),
    count,
    tracksClosed: () => undefined,
    left: () => undefined,
  });
  link.start();
  return {
    config,
    live,
    counters,
    upstream,
    socket,
    receive: (message, nowMs) => messages.receive(socket, message, nowMs),
    ready: async () => {
      for (let i = 0; i < 10 && link.status !== "connected"; i++) await Promise.resolve();
    },
  };
}

/** A message as the runtime hands it to webSocketMessage: an ArrayBuffer of exactly its bytes. */
export function asArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer as ArrayBuffer;
}
