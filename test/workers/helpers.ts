import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { deepfake_edge } from "../../src/gen/ingest.js";

export const ADMIN = { Authorization: "Bearer workers-test-admin" };
const v1 = deepfake_edge.v1;

export function call(path: string, init?: RequestInit): Promise<Response> {
  return exports.default.fetch(new Request(`https://edge.test${path}`, init));
}

export async function mintToken(participantId: string, ttlS = 600): Promise<string> {
  const res = await call("/v1/tokens", {
    method: "POST",
    headers: { ...ADMIN, "content-type": "application/json" },
    body: JSON.stringify({ participant_id: participantId, ttl_s: ttlS }),
  });
  if (res.status !== 200) throw new Error(`token mint failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

export interface EventSocket {
  ws: WebSocket;
  events: Array<Record<string, unknown>>;
  next(type: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  sendVideo(frame: { trackId?: string; width: number; height: number; format: "RGB24" | "RGBA" | "I420" | "JPEG"; source?: "camera" | "screen"; data: Uint8Array }): void;
}

/** Opens a participant socket through the Worker (as a client would) and collects its JSON events. */
export async function connect(participantId: string, token?: string): Promise<EventSocket> {
  const res = await call(`/v1/participants/${participantId}/stream`, {
    headers: { Upgrade: "websocket", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
  });
  if (res.status !== 101 || !res.webSocket) throw new Error(`upgrade failed: ${res.status} ${await res.text()}`);
  const ws = res.webSocket;
  ws.accept();
  const events: Array<Record<string, unknown>> = [];
  let cursor = 0;
  const waiters: Array<() => void> = [];
  ws.addEventListener("message", (event) => {
    events.push(JSON.parse(event.data as string) as Record<string, unknown>);
    for (const wake of waiters.splice(0)) wake();
  });
  return {
    ws,
    events,
    async next(type, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        while (cursor < events.length) {
          const event = events[cursor++]!;
          if (event.type === type) return event;
        }
        if (Date.now() > deadline) throw new Error(`no ${type} event within ${timeoutMs} ms; got ${JSON.stringify(events)}`);
        await Promise.race([new Promise<void>((resolve) => waiters.push(resolve)), new Promise((r) => setTimeout(r, 50))]);
      }
    },
    sendVideo(frame) {
      ws.send(
        v1.ClientMessage.encode({
          video: {
            trackId: frame.trackId ?? "cam",
            width: frame.width,
            height: frame.height,
            format: v1.PixelFormat[frame.format],
            source: frame.source === "screen" ? v1.VideoSource.SCREEN : v1.VideoSource.CAMERA,
            timestampMs: Date.now(),
            data: frame.data,
          },
        }).finish(),
      );
    },
  };
}

export function rgbFrame(width: number, height: number, seed = 0): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    data[i * 3] = (i + seed) & 255;
    data[i * 3 + 1] = (i >> 6) & 255;
    data[i * 3 + 2] = seed & 255;
  }
  return data;
}

export async function simulatorStats(participantId: string): Promise<{ level: string; jpeg_frames: number; rejected: number; last_jpeg: { width: number; height: number } | null }> {
  // The pool's host (edge.test) is not loopback, so the simulator controls need the admin key.
  const res = await call(`/v1/dev/simulator/${participantId}`, { headers: ADMIN });
  return res.json();
}

export async function steer(participantId: string, level: string): Promise<Response> {
  return call(`/v1/dev/simulator/${participantId}`, { method: "POST", headers: ADMIN, body: JSON.stringify({ level }) });
}

export async function waitUntil(check: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The participant's Durable Object stub, for runInDurableObject / runDurableObjectAlarm. */
export const stubFor = (participantId: string) => env.PARTICIPANT_SESSION.get(env.PARTICIPANT_SESSION.idFromName(participantId));

/** A management call with the admin key. */
export const admin = (path: string, init: RequestInit = {}) => call(path, { ...init, headers: { ...ADMIN, ...(init.headers ?? {}) } });

/** Connects, drives one transition to `level` through the simulator, and closes. */
export async function transition(participantId: string, level: "suspicious" | "alert" | "clear") {
  const s = await connect(participantId, await mintToken(participantId));
  await s.next("upstream");
  await steer(participantId, level);
  s.sendVideo({ width: 32, height: 32, format: "RGB24", data: rgbFrame(32, 32) });
  const alert = await s.next("deepfake_alert");
  s.ws.close(1000);
  return alert;
}

export interface OutboxRow { status: string; attempts: number }

/** The participant's webhook outbox, read through the router's RPC. */
export async function outbox(participantId: string): Promise<OutboxRow[]> {
  const res = await call(`/v1/participants/${participantId}/webhooks`, { headers: ADMIN });
  if (res.status !== 200) throw new Error(`GET webhooks for ${participantId} answered ${res.status}`);
  return ((await res.json()) as { webhooks: OutboxRow[] }).webhooks;
}

/**
 * What a deploy or a crash does: the instance is thrown away with its sockets and memory. It waits
 * first until every webhook has had its first attempt recorded: aborting an instance while its
 * delivery fetch is in flight leaves the pool (0.15.1) hanging at teardown.
 */
export async function evict(participantId: string): Promise<void> {
  await waitUntil(async () => (await outbox(participantId)).every((w) => w.attempts >= 1));
  await runInDurableObject(stubFor(participantId), (_instance: unknown, state) => {
    try {
      state.abort("test: simulated eviction");
    } catch {
      // abort() throws in the caller by design
    }
  }).catch(() => undefined);
}
