/**
 * A stand-in for the rooms backend that speaks the docs/DESIGN.md §12/§13 shapes, for developing the
 * operations view before the real one exists. It serves the committed page assets and answers
 * GET /v1/rooms, /v1/rooms/:room, /events, the watch socket and POST …/checks, with the admin key
 * required on all of them. Test-only: the browser test of record runs against `wrangler dev`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import { OPS_CSS, OPS_HTML, OPS_JS } from "../../../src/ops/generated/assets.js";

type Level = "clear" | "suspicious" | "alert";
const RANK: Record<Level, number> = { clear: 0, suspicious: 1, alert: 2 };

interface Member {
  participant_id: string;
  level: Level;
  since_ms: number;
  connected: boolean;
  tracks: Array<{ track_id: string; level: Level }>;
  last_event: Record<string, unknown> | null;
}

interface Room {
  members: Map<string, Member>;
  level: Level;
  events: Array<Record<string, unknown>>;
  watchers: Set<WebSocket>;
}

export interface FakeRooms {
  url: string;
  /** Every request line the server saw (method and URL), for the no-key-in-URL checks. */
  requests: string[];
  join(roomId: string, participantId: string, tracks?: string[]): void;
  leave(roomId: string, participantId: string): void;
  transition(roomId: string, participantId: string, level: Level, trackId?: string): void;
  checks: string[];
  dropWatchers(): void;
  stop(): Promise<void>;
}

let seq = 0;
const eventId = () => `evt_${(Date.now() + seq++).toString(36)}`;

export async function startFakeRooms(adminKey: string): Promise<FakeRooms> {
  const rooms = new Map<string, Room>();
  const requests: string[] = [];
  const checks: string[] = [];
  const room = (id: string): Room => {
    let r = rooms.get(id);
    if (!r) rooms.set(id, (r = { members: new Map(), level: "clear", events: [], watchers: new Set() }));
    return r;
  };
  const snapshot = (id: string, r: Room) => ({ room_id: id, level: r.level, participants: [...r.members.values()] });
  const send = (r: Room, message: Record<string, unknown>) => {
    for (const ws of r.watchers) ws.send(JSON.stringify(message));
  };
  const relevel = (id: string, r: Room) => {
    let worst: Level = "clear";
    for (const m of r.members.values()) if (m.connected && RANK[m.level] > RANK[worst]) worst = m.level;
    if (worst !== r.level) {
      const previous = r.level;
      r.level = worst;
      send(r, { type: "room_level", room_id: id, level: worst, previous_level: previous });
    }
  };
  const memberRoom = (participantId: string): [string, Room] | null => {
    for (const [id, r] of rooms) if (r.members.get(participantId)?.connected) return [id, r];
    return null;
  };

  const authorized = (req: IncomingMessage) => {
    const header = req.headers.authorization;
    if (header === `Bearer ${adminKey}`) return true;
    const protocols = String(req.headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim());
    return protocols.includes(`bearer.${adminKey}`);
  };
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  };

  const server: Server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const url = new URL(req.url ?? "/", "http://x");
    const path = url.pathname;
    if (path === "/rooms" || /^\/rooms\/[^/]+$/.test(path)) return res.writeHead(200, { "content-type": "text/html" }).end(OPS_HTML);
    if (path === "/ops/app.js") return res.writeHead(200, { "content-type": "text/javascript" }).end(OPS_JS);
    if (path === "/ops/app.css") return res.writeHead(200, { "content-type": "text/css" }).end(OPS_CSS);
    if (path === "/healthz") return json(res, 200, { status: "ok", dev_mode: false, simulated: false });
    if (path === "/favicon.ico") return res.writeHead(204).end();
    if (!authorized(req)) return json(res, 401, { error: "unauthorized", message: "management routes need Authorization: Bearer <ADMIN_API_KEY>" });
    if (path === "/v1/rooms") {
      const list = [...rooms].map(([id, r]) => ({
        room_id: id,
        level: r.level,
        connected: [...r.members.values()].filter((m) => m.connected).length,
        participants: r.members.size,
        alerts_last_hour: r.events.filter((e) => e.level === "alert" && e.type === "deepfake_alert").length,
      }));
      return json(res, 200, { rooms: list });
    }
    let m = /^\/v1\/rooms\/([^/]+)(\/events)?$/.exec(path);
    if (m) {
      const id = decodeURIComponent(m[1]!);
      const r = rooms.get(id);
      if (!r) return json(res, 404, { error: "not_found", message: `no room ${id}` });
      return json(res, 200, m[2] ? { events: r.events, next_after: null } : snapshot(id, r));
    }
    m = /^\/v1\/participants\/([^/]+)\/checks$/.exec(path);
    if (m && req.method === "POST") {
      const pid = decodeURIComponent(m[1]!);
      const found = memberRoom(pid);
      if (!found) return json(res, 404, { error: "no_session", message: `${pid} is not connected` });
      checks.push(pid);
      const checkId = `chk_${seq++}`;
      const startedMs = Date.now();
      const untilMs = startedMs + 10_000;
      send(found[1], { type: "check_started", check_id: checkId, participant_id: pid, room_id: found[0], until_ms: untilMs });
      setTimeout(() => {
        const member = found[1].members.get(pid);
        const done = {
          type: "check_completed", id: eventId(), check_id: checkId, participant_id: pid, room_id: found[0],
          level: member?.level ?? "clear", outcome: "answered", results: 2, tracks: member?.tracks ?? [],
          started_ms: startedMs, completed_ms: Date.now(), simulated: false,
        };
        found[1].events.push(done);
        send(found[1], done);
      }, 2_500);
      return json(res, 200, { check_id: checkId, until_ms: untilMs });
    }
    json(res, 404, { error: "not_found", message: path });
  });

  const wss = new WebSocketServer({ noServer: true, handleProtocols: (p) => (p.has("deepfake-edge.v1") ? "deepfake-edge.v1" : false) });
  server.on("upgrade", (req, socket, head) => {
    requests.push(`UPGRADE ${req.url}`);
    const m = /^\/v1\/rooms\/([^/]+)\/watch$/.exec(new URL(req.url ?? "/", "http://x").pathname);
    if (!m || !authorized(req)) {
      socket.end("HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n");
      return;
    }
    const id = decodeURIComponent(m[1]!);
    wss.handleUpgrade(req, socket, head, (ws) => {
      const r = room(id);
      r.watchers.add(ws);
      ws.on("close", () => r.watchers.delete(ws));
      ws.send(JSON.stringify({ type: "room", ...snapshot(id, r) }));
    });
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    checks,
    join(roomId, participantId, tracks = ["camera", "microphone"]) {
      const r = room(roomId);
      r.members.set(participantId, {
        participant_id: participantId, level: "clear", since_ms: Date.now(), connected: true,
        tracks: tracks.map((t) => ({ track_id: t, level: "clear" as Level })), last_event: null,
      });
      send(r, { type: "participant_joined", room_id: roomId, participant_id: participantId });
    },
    leave(roomId, participantId) {
      const r = room(roomId);
      const member = r.members.get(participantId);
      if (member) member.connected = false;
      send(r, { type: "participant_left", room_id: roomId, participant_id: participantId });
      relevel(roomId, r);
    },
    transition(roomId, participantId, level, trackId = "camera") {
      const r = room(roomId);
      const member = r.members.get(participantId);
      if (!member) throw new Error(`${participantId} is not in ${roomId}`);
      const event = {
        type: "deepfake_alert", id: eventId(), level, previous_level: member.level, participant_id: participantId,
        room_id: roomId, track_id: trackId, message: "", timestamp_ms: Date.now(), reason: "result", simulated: false,
      };
      member.level = level;
      member.since_ms = event.timestamp_ms;
      member.last_event = event;
      const track = member.tracks.find((t) => t.track_id === trackId);
      if (track) track.level = level;
      r.events.push(event);
      send(r, event);
      relevel(roomId, r);
    },
    dropWatchers() {
      for (const r of rooms.values()) for (const ws of r.watchers) ws.close(1012, "restarting");
    },
    async stop() {
      for (const r of rooms.values()) for (const ws of r.watchers) ws.terminate();
      wss.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
