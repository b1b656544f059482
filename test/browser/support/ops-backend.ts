/**
 * What the operations-view browser test drives: a real `wrangler dev` in development mode (the
 * built-in simulator answers), with an ADMIN_API_KEY (the page must ask for it) or without any
 * secret (the view is open on loopback). Participants
 * are `ws` clients that join rooms through connect tokens with a `room` claim and stream a small
 * camera; results are steered through the simulator's controls.
 *
 * The browser reaches the Worker through a loopback TCP relay, so the test can cut the browser's
 * connections (as a network drop would: no close frame) and watch the page reconnect on its own.
 * Participants connect to wrangler directly and are not affected.
 */
import { connect, createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { connectParticipant, startVideoStream, VideoSource, type ParticipantClient } from "../../e2e/harness/client.js";
import { startWranglerDev, type WranglerDev } from "../../e2e/harness/wrangler-dev.js";

export type Level = "clear" | "suspicious" | "alert";

export interface OpsBackend {
  /** Where the browser goes (the relay). */
  url: string;
  /** Null: no secret is configured, so development mode on loopback needs no key. */
  adminKey: string | null;
  /** A participant connects into a room and streams a camera. */
  join(roomId: string, participantId: string): Promise<void>;
  /** Steers the participant's next result to `level`; resolves with the transition's timestamp_ms. */
  steer(roomId: string, participantId: string, level: Level): Promise<{ steeredAtMs: number; resultAtMs: number }>;
  /** check_started events the participant's own socket received. */
  checksStarted(participantId: string): Promise<number>;
  /** Cuts every connection the browser has open (its watch socket among them). */
  dropWatchers(): Promise<void>;
  logs(): string;
  stop(): Promise<void>;
}

export const TEST_ADMIN_KEY = "ops-test-admin-key-0123456789";
/** Small frames at a low rate: enough for the simulator to answer, cheap on a loaded 2-core machine. */
const FRAME = { width: 320, height: 240, fps: 2 };

interface Member {
  client: ParticipantClient;
  stream: { stop(): unknown };
}

/** A loopback TCP relay whose connections can all be cut at once. */
async function startRelay(targetPort: number): Promise<{ server: Server; port: number; cut(): void }> {
  const open = new Set<Socket>();
  const server = createServer((inbound) => {
    const outbound = connect(targetPort, "127.0.0.1");
    for (const s of [inbound, outbound]) {
      open.add(s);
      s.on("close", () => open.delete(s));
      s.on("error", () => {
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    cut() {
      for (const s of open) s.destroy();
    },
  };
}

async function mintRoomToken(baseUrl: string, headers: Record<string, string>, participantId: string, room: string): Promise<string> {
  const res = await fetch(`${baseUrl}/v1/tokens`, {
    method: "POST",
    headers,
    body: JSON.stringify({ participant_id: participantId, room, ttl_s: 600 }),
  });
  const body = (await res.json()) as { token?: unknown };
  if (res.status !== 200 || typeof body.token !== "string") throw new Error(`POST /v1/tokens answered ${res.status}: ${JSON.stringify(body)}`);
  return body.token;
}

export async function startOpsBackend(adminKey: string | null): Promise<OpsBackend> {
  // With a secret set, development mode signs no tokens of its own: participants need a real secret.
  const secrets: Record<string, string> = adminKey
    ? { ADMIN_API_KEY: adminKey, CONNECT_TOKEN_SECRET: "ops-test-connect-token-secret-0123" }
    : {};
  const vars: Record<string, string> = { DEV_MODE: "true", ...secrets };
  const dev: WranglerDev = await startWranglerDev({ vars });
  const relay = await startRelay(dev.port);
  const members = new Map<string, Member>();
  const admin = { ...(adminKey ? { authorization: `Bearer ${adminKey}` } : {}), "content-type": "application/json" };

  return {
    url: `http://127.0.0.1:${relay.port}`,
    adminKey,
    logs: () => dev.logs(),
    async join(roomId, participantId) {
      const token = await mintRoomToken(dev.url, admin, participantId, roomId);
      const client = await connectParticipant(dev.url, participantId, token);
      const ready = await client.waitFor((e) => e.type === "ready", 10_000);
      if (ready.event.room_id !== roomId) throw new Error(`${participantId} is ready in room ${String(ready.event.room_id)}, not ${roomId}`);
      const stream = startVideoStream(client, { trackId: "camera", source: VideoSource.CAMERA, ...FRAME });
      members.set(participantId, { client, stream });
      // The simulator answers a steer on the last frame it saw: wait until one arrived.
      const deadline = Date.now() + 15_000;
      for (;;) {
        const stats = (await (await fetch(`${dev.url}/v1/dev/simulator/${participantId}`, { headers: admin })).json()) as { jpeg_frames?: number };
        if ((stats.jpeg_frames ?? 0) >= 1) break;
        if (Date.now() > deadline) throw new Error(`no frame of ${participantId} reached the simulator within 15 s`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async steer(_roomId, participantId, level) {
      const member = members.get(participantId);
      if (!member) throw new Error(`${participantId} has not joined`);
      const transition = member.client.next((e) => e.type === "deepfake_alert" && e.level === level, 10_000);
      const steeredAtMs = Date.now();
      const body = JSON.stringify({ level });
      const res = await fetch(`${dev.url}/v1/dev/simulator/${participantId}`, { method: "POST", headers: admin, body });
      if (res.status !== 200) throw new Error(`steering ${participantId} answered ${res.status}: ${await res.text()}`);
      const alert = await transition;
      return { steeredAtMs, resultAtMs: Number(alert.event.timestamp_ms) };
    },
    async checksStarted(participantId) {
      return members.get(participantId)?.client.ofType("check_started").length ?? 0;
    },
    async dropWatchers() {
      relay.cut();
    },
    async stop() {
      for (const { client, stream } of members.values()) {
        stream.stop();
        await client.close().catch(() => undefined);
      }
      relay.cut();
      await new Promise<void>((resolve) => relay.server.close(() => resolve()));
      await dev.stop();
    },
  };
}
