/**
 * Rooms and the directory (docs/DESIGN.md §12) inside workerd: a room's bookkeeping from its
 * participants' joins, leaves and transitions; the watch socket's order; a participant whose room
 * throws still gets its transition out (socket, history, webhook outbox) and the room catches up
 * from the participant's alarm; the directory's counts; who may open a watch socket.
 */
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { RoomObject } from "../../src/rooms/room-object";
import { ADMIN, admin, call, connect, rgbFrame, steer, stubFor, waitUntil, type EventSocket } from "./helpers";

const RUN = Date.now().toString(36);

async function token(body: Record<string, unknown>): Promise<string> {
  const res = await call("/v1/tokens", { method: "POST", headers: { ...ADMIN, "content-type": "application/json" }, body: JSON.stringify(body) });
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { token: string }).token;
}

async function join(pid: string, room: string): Promise<EventSocket> {
  const s = await connect(pid, await token({ participant_id: pid, room }));
  await s.next("upstream");
  return s;
}

async function drive(s: EventSocket, pid: string, level: string): Promise<Record<string, unknown>> {
  await steer(pid, level);
  s.sendVideo({ width: 32, height: 32, format: "RGB24", data: rgbFrame(32, 32, Math.floor(Math.random() * 255)) });
  return s.next("deepfake_alert");
}

async function roomOf(room: string): Promise<any> {
  const res = await admin(`/v1/rooms/${room}`);
  return res.status === 200 ? res.json() : null;
}

async function watch(room: string, headers: Record<string, string> = ADMIN): Promise<{ events: any[]; ws: WebSocket }> {
  const res = await call(`/v1/rooms/${room}/watch`, { headers: { Upgrade: "websocket", ...headers } });
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  ws.accept();
  const events: any[] = [];
  ws.addEventListener("message", (e) => events.push(JSON.parse(e.data as string)));
  return { events, ws };
}

const roomStub = (room: string) => env.ROOMS.get(env.ROOMS.idFromName(room));

describe("rooms", () => {
  it("keeps each participant's level, tracks and connection; the room level counts connected participants; watchers see it in order", async () => {
    const room = `r-${RUN}-a`;
    const watcher = await watch(room);
    const [a, b] = [`${room}-alice`, `${room}-bob`];
    const sa = await join(a, room);
    const sb = await join(b, room);
    const ready = sa.events.find((e) => e.type === "ready");
    expect(ready?.room_id).toBe(room);
    const alert = await drive(sa, a, "alert");
    expect(alert).toMatchObject({ room_id: room, level: "alert", participant_id: a });
    await drive(sb, b, "suspicious");
    await waitUntil(async () => (await roomOf(room))?.participants?.find((p: any) => p.participant_id === b)?.level === "suspicious");
    const snap = await roomOf(room);
    expect(snap).toMatchObject({ room_id: room, level: "alert" });
    const alice = snap.participants.find((p: any) => p.participant_id === a);
    expect(alice).toMatchObject({ level: "alert", connected: true, tracks: [{ track_id: "cam", level: "alert" }], last_event: { id: alert.id } });
    expect(alice.since_ms).toBe(alert.timestamp_ms);

    // Alice leaves: still listed, not connected; the room's level falls to Bob's.
    sa.ws.close(1000);
    await waitUntil(async () => (await roomOf(room))?.level === "suspicious");
    expect((await roomOf(room)).participants.find((p: any) => p.participant_id === a).connected).toBe(false);

    const types = watcher.events.map((e) => (e.type === "deepfake_alert" ? `alert:${e.participant_id === a ? "a" : "b"}` : e.type));
    expect(watcher.events[0]).toEqual({ type: "room", room_id: room, level: "clear", participants: [] });
    expect(types).toEqual([
      "room",
      "participant_joined", "participant_joined",
      "alert:a", "room_level",
      "alert:b",
      // Alice's socket closing closes her track (a transition back to clear), then she leaves.
      ...types.slice(6, types.length - 2),
      "participant_left", "room_level",
    ]);
    expect(watcher.events.at(-1)).toEqual({ type: "room_level", room_id: room, level: "suspicious", previous_level: "alert" });
    expect(watcher.events[4]).toEqual({ type: "room_level", room_id: room, level: "alert", previous_level: "clear" });
    // The room's log pages the alerts with the ids the participants' clients saw.
    const page = (await (await admin(`/v1/rooms/${room}/events?limit=1`)).json()) as any;
    expect(page.events[0].id).toBe(alert.id);
    const rest = (await (await admin(`/v1/rooms/${room}/events?after=${page.next_after}`)).json()) as any;
    expect(rest.events.length).toBeGreaterThanOrEqual(1);
    // The participant's own history carries the room too.
    const history = (await (await admin(`/v1/participants/${a}/events`)).json()) as any;
    expect(history.events[0]).toMatchObject({ id: alert.id, room_id: room });
    sb.ws.close(1000);
    watcher.ws.close(1000);
  });

  it("a participant's transition commits and goes out while its room throws; the room catches up from the participant's alarm", async () => {
    const room = `r-${RUN}-broken`;
    const pid = `${room}-p`;
    const s = await join(pid, room);
    await waitUntil(async () => (await roomOf(room))?.participants?.length === 1);
    // This room's object starts throwing on every report (RPC calls prototype methods).
    const proto = await runInDurableObject(roomStub(room), (instance: RoomObject) => Object.getPrototypeOf(instance));
    const original = proto.report;
    proto.report = async function (this: RoomObject, batch: unknown[]) {
      if ((this as any).ctx.id.name === room) throw new Error("room is broken");
      return original.call(this, batch);
    };
    const started = Date.now();
    const alert = await drive(s, pid, "alert");
    expect(alert).toMatchObject({ level: "alert", room_id: room });
    expect(Date.now() - started).toBeLessThan(5_000);
    const hooks = (await (await admin(`/v1/participants/${pid}/webhooks`)).json()) as any;
    expect(hooks.webhooks.map((w: any) => w.event_id)).toContain(alert.id);
    expect((await roomOf(room)).participants[0].level).toBe("clear");
    // The report is stored and retried: the room mends, the participant's alarm sends it.
    proto.report = original;
    const pending = await runInDurableObject(stubFor(pid), (_i, state) => state.storage.sql.exec("SELECT COUNT(*) AS n FROM room_reports").one().n);
    expect(pending).toBeGreaterThanOrEqual(1);
    await runDurableObjectAlarm(stubFor(pid));
    await waitUntil(async () => (await roomOf(room))?.level === "alert");
    expect((await roomOf(room)).participants[0].last_event.id).toBe(alert.id);
    s.ws.close(1000);
  });

  it("the directory lists rooms with connected participants, room level and alerts in the last hour", async () => {
    const [r1, r2] = [`r-${RUN}-d1`, `r-${RUN}-d2`];
    const s1 = await join(`${r1}-x`, r1);
    const s2 = await join(`${r1}-y`, r1);
    const s3 = await join(`${r2}-z`, r2);
    await drive(s1, `${r1}-x`, "alert");
    const listed = async () => ((await (await admin("/v1/rooms")).json()) as any).rooms as any[];
    await waitUntil(async () => (await listed()).find((r) => r.room_id === r1)?.alerts_last_hour === 1);
    expect((await listed()).find((r) => r.room_id === r1)).toEqual({ room_id: r1, level: "alert", connected: 2, participants: 2, alerts_last_hour: 1 });
    await waitUntil(async () => (await listed()).some((r) => r.room_id === r2));
    expect((await listed()).find((r) => r.room_id === r2)).toEqual({ room_id: r2, level: "clear", connected: 1, participants: 1, alerts_last_hour: 0 });
    s2.ws.close(1000);
    await waitUntil(async () => (await listed()).find((r) => r.room_id === r1)?.connected === 1);
    expect((await listed()).find((r) => r.room_id === r1)).toMatchObject({ participants: 2, level: "alert" });
    s1.ws.close(1000);
    s3.ws.close(1000);
  });

  it("the watch socket takes the admin key or a watch token for its room, and nothing else", async () => {
    const room = `r-${RUN}-auth`;
    const upgrade = (headers: Record<string, string>) => call(`/v1/rooms/${room}/watch`, { headers: { Upgrade: "websocket", ...headers } });
    const none = await upgrade({});
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ error: "unauthorized" });
    expect((await upgrade({ Authorization: "Bearer wrong" })).status).toBe(401);
    const other = await token({ scope: "watch", room: `${room}-other` });
    const elsewhere = await upgrade({ Authorization: `Bearer ${other}` });
    expect(elsewhere.status).toBe(403);
    expect(await elsewhere.json()).toMatchObject({ error: "forbidden" });
    const stream = await token({ participant_id: "p", room, scope: "stream" });
    expect((await upgrade({ Authorization: `Bearer ${stream}` })).status).toBe(403);
    const own = await token({ scope: "watch", room });
    const res = await upgrade({ "Sec-WebSocket-Protocol": `deepfake-edge.v1, bearer.${own}` });
    expect(res.status).toBe(101);
    expect(res.headers.get("sec-websocket-protocol")).toBe("deepfake-edge.v1");
    res.webSocket!.accept();
    res.webSocket!.close(1000);
    // A watch token opens no participant socket.
    const onStream = await call(`/v1/participants/p/stream`, { headers: { Upgrade: "websocket", Authorization: `Bearer ${own}` } });
    expect(onStream.status).toBe(401);
    expect((await call(`/v1/rooms/${room}`)).status).toBe(401);
    expect((await call(`/v1/rooms/bad%20room`, { headers: ADMIN })).status).toBe(400);
  });

  it("?room= outside development mode on loopback is refused, and a client cannot set the internal room header", async () => {
    const pid = `r-${RUN}-q`;
    const t = await token({ participant_id: pid });
    const res = await call(`/v1/participants/${pid}/stream?room=elsewhere`, { headers: { Upgrade: "websocket", Authorization: `Bearer ${t}` } });
    expect(res.status).toBe(400);
    const s = await connect(pid, t);
    expect((await s.next("ready")).room_id).toBeNull();
    s.ws.close(1000);
  });

  it("an unknown room answers 404; a watcher of a room nobody joined yet gets an empty snapshot; the directory lists none", async () => {
    const room = `r-${RUN}-empty`;
    expect((await admin(`/v1/rooms/${room}`)).status).toBe(404);
    const watcher = await watch(room);
    await waitUntil(async () => watcher.events.length > 0);
    expect(watcher.events[0]).toEqual({ type: "room", room_id: room, level: "clear", participants: [] });
    const listed = (await (await admin("/v1/rooms")).json()) as { rooms: Array<{ room_id: string }> };
    expect(listed.rooms.some((r) => r.room_id === room)).toBe(false);
    watcher.ws.close(1000);
  });
});

describe("per-track levels", () => {
  it("a track's level that moves without moving the participant's still reaches the room (no watch event)", async () => {
    const room = `r-${RUN}-tracks`;
    const pid = `${room}-p`;
    const watcher = await watch(room);
    const s = await join(pid, room);
    await drive(s, pid, "alert");
    await steer(pid, "suspicious");
    s.sendVideo({ trackId: "cam2", width: 32, height: 32, format: "RGB24", data: rgbFrame(32, 32, 7) });
    // The room's per-track levels follow the participant's own, including the new track.
    const own = async () => {
      const snap = (await (await admin(`/v1/participants/${pid}`)).json()) as any;
      return snap.tracks.map((t: any) => ({ track_id: t.track_id, level: t.level }));
    };
    const tracks = async () => (await roomOf(room))?.participants?.[0]?.tracks;
    await waitUntil(async () => (await tracks())?.some((t: any) => t.track_id === "cam2"));
    await waitUntil(async () => JSON.stringify(await tracks()) === JSON.stringify(await own()));
    expect(await tracks()).toContainEqual({ track_id: "cam2", level: "suspicious" });
    const transitions = s.events.filter((e) => e.type === "deepfake_alert").length;
    // Only transitions reach the watcher: a track that moved alone sends nothing on the watch socket.
    expect(watcher.events.filter((e) => e.type === "deepfake_alert")).toHaveLength(transitions);
    s.ws.close(1000);
    watcher.ws.close(1000);
  });
});

describe("room retention", () => {
  it("a room is purged RETENTION_HOURS after its last participant left, and leaves the directory", async () => {
    const room = `r-${RUN}-purge`;
    const s = await join(`${room}-p`, room);
    await waitUntil(async () => (await roomOf(room))?.participants?.[0]?.connected === true);
    const purgeAt = () =>
      runInDurableObject(roomStub(room), (_i, state) => state.storage.sql.exec("SELECT purge_at_ms FROM room_meta").one().purge_at_ms);
    expect(await purgeAt()).toBeNull();
    const left = Date.now();
    s.ws.close(1000);
    await waitUntil(async () => (await roomOf(room))?.participants?.[0]?.connected === false);
    const at = Number(await purgeAt());
    expect(at - left).toBeGreaterThanOrEqual(24 * 3_600_000 - 5_000);
    expect(at - left).toBeLessThanOrEqual(24 * 3_600_000 + 5_000);
    // The alarm at that time (brought forward here) purges the room.
    await runInDurableObject(roomStub(room), (_i, state) => {
      state.storage.sql.exec("UPDATE room_meta SET purge_at_ms = ?", Date.now() - 1);
    });
    expect(await runDurableObjectAlarm(roomStub(room))).toBe(true);
    expect((await admin(`/v1/rooms/${room}`)).status).toBe(404);
    const rooms = ((await (await admin("/v1/rooms")).json()) as any).rooms as any[];
    expect(rooms.some((r) => r.room_id === room)).toBe(false);
  });
});

describe("what rooms cost", () => {
  it("per transition: one report RPC and a few rows in the room; the directory only hears room-level changes", async () => {
    const room = `r-${RUN}-cost`;
    const [a, b] = [`${room}-a`, `${room}-b`];
    const sa = await join(a, room);
    const sb = await join(b, room);
    await waitUntil(async () => (await roomOf(room))?.participants?.length === 2);
    const directory = env.ROOM_DIRECTORY.get(env.ROOM_DIRECTORY.idFromName("directory"));
    await new Promise((r) => setTimeout(r, 200)); // the joins' directory update settles
    const [room0, dir0] = [await roomStub(room).costs(), await directory.costs()];
    // Room level: clear -> suspicious (changes), stays (b suspicious), stays (a clear), -> alert (changes, an alert).
    const steps: Array<[EventSocket, string, string]> = [[sa, a, "suspicious"], [sb, b, "suspicious"], [sa, a, "clear"], [sb, b, "alert"]];
    for (const [s, pid, level] of steps) {
      await drive(s, pid, level);
      await waitUntil(async () => (await roomOf(room))?.participants?.find((p: any) => p.participant_id === pid)?.level === level);
    }
    await waitUntil(async () => (await directory.costs()).updates - dir0.updates >= 2);
    await new Promise((r) => setTimeout(r, 200));
    const [room1, dir1] = [await roomStub(room).costs(), await directory.costs()];
    const n = steps.length;
    const perTransition = {
      report_rpcs: (room1.report_rpcs - room0.report_rpcs) / n,
      room_rows: (room1.rows_written - room0.rows_written) / n,
      directory_rpcs: (room1.directory_rpcs - room0.directory_rpcs) / n,
      directory_rows: (dir1.rows_written - dir0.rows_written) / n,
    };
    console.log("[measure] rooms: per transition", JSON.stringify(perTransition), "over", n, "transitions, 2 of them room-level changes");
    expect(room1.reports - room0.reports).toBe(n);
    expect(room1.report_rpcs - room0.report_rpcs).toBeLessThanOrEqual(n);
    // The participant's row, the event log's row and its event-id index entry: nothing more per transition.
    expect(room1.rows_written - room0.rows_written).toBeLessThanOrEqual(3 * n);
    // Only the two room-level changes reach the directory (one row each).
    expect(room1.directory_rpcs - room0.directory_rpcs).toBe(2);
    expect(dir1.rows_written - dir0.rows_written).toBe(2);
    sa.ws.close(1000);
    sb.ws.close(1000);
  });
});
