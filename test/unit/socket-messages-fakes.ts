/**
 * The object's message path for unit tests: SocketMessages (parser, budgets, media intake) over real
 * Connections and an active participant in development mode, with fake hibernatable sockets that
 * record what the client would hear. Shared by socket-messages, budget-overload and audio-hint tests.
 */
import { parseConfig } from "../../src/config/config";
import { activateParticipant } from "../../src/session/active-participant";
import { Connections } from "../../src/session/connections";
import type { CounterName } from "../../src/session/counters";
import { SocketMessages } from "../../src/session/socket-messages";

export class FakeSocket {
  attachment: unknown = null;
  readonly sent: Array<Record<string, unknown>> = [];
  closed: { code?: number; reason?: string } | null = null;
  serializeAttachment(value: unknown): void {
    this.attachment = structuredClone(value);
  }
  deserializeAttachment(): unknown {
    return this.attachment;
  }
  send(text: string): void {
    this.sent.push(JSON.parse(text) as Record<string, unknown>);
  }
  close(code?: number, reason?: string): void {
    this.closed ??= { code, reason };
  }
  errors(code?: string) {
    return this.sent.filter((e) => e.type === "error" && (code === undefined || e.code === code));
  }
  hints() {
    return this.sent.filter((e) => e.type === "audio");
  }
}

/**
 * A participant's message path with AUDIO_INTERVAL_S (default "0": no pause between chunks).
 * `chunks` lists the track of each PCM chunk sent upstream, `counts` the counters; `open(nowMs)`
 * attaches a new client socket.
 */
export function messagePath(audioIntervalS = "0") {
  const sockets: FakeSocket[] = [];
  const host = { getWebSockets: () => sockets.filter((s) => !s.closed), getTags: () => ["client"] };
  const connections = new Connections<FakeSocket>(host);
  const config = parseConfig({ DEV_MODE: "true", AUDIO_INTERVAL_S: audioIntervalS });
  const counts: Partial<Record<CounterName, number>> = {};
  const chunks: string[] = [];
  const outputs = { send: (_bytes: Uint8Array, trackId: string) => void chunks.push(trackId), count: () => undefined };
  const session = { participantId: "p", level: "clear", sinceMs: 0 } as const;
  const live = activateParticipant(config, session, [], 0, async () => new Uint8Array(4), outputs);
  const messages = new SocketMessages<FakeSocket>({
    config,
    sockets: connections,
    live: () => live,
    wantUpstream: () => undefined,
    tracksClosed: () => undefined,
    count: (name, by = 1) => void (counts[name] = (counts[name] ?? 0) + by),
    left: () => undefined,
  });
  const open = (nowMs = 0) => {
    const ws = new FakeSocket();
    sockets.push(ws);
    connections.attach(ws, "client", nowMs);
    return ws;
  };
  return { messages, open, counts, chunks };
}
