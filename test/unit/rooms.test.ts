/**
 * Rooms as pure logic (docs/DESIGN.md §12): what a room derives from its participants' reports (joins,
 * leaves, the room level, the watch stream's order, retries applied once), the directory's listing,
 * the room a socket joins, and the background sender's retry schedule.
 */
import { describe, expect, it } from "vitest";
import { alertsWithin, listRooms, parseDirectoryUpdate, type DirectoryUpdate } from "../../src/rooms/directory";
import { admitRoom, chooseRoom, roomFromHeaders, withRoomHeader, ROOM_HEADER } from "../../src/rooms/membership";
import { RetrySender } from "../../src/rooms/retry-sender";
import { RoomState, parseRoomReport, roomLevel, type RoomReport } from "../../src/rooms/room-state";
import type { DeepfakeAlert } from "../../src/protocol/events";
import type { Level } from "../../src/protocol/levels";

let seq = 0;
function report(pid: string, level: Level, connected: boolean, extra: Partial<RoomReport> = {}): RoomReport {
  return {
    participant_id: pid, room_id: "r", session: "s1", seq: ++seq, at_ms: 1000 + seq,
    state: { level, since_ms: 1000 + seq, connected, tracks: level === "clear" ? [] : [{ track_id: "cam", level }] },
    ...extra,
  };
}

function alert(pid: string, level: Level, previous: Level): DeepfakeAlert {
  return {
    type: "deepfake_alert", id: `evt_${++seq}`, level, previous_level: previous, participant_id: pid, room_id: "r",
    track_id: "cam", message: "", timestamp_ms: 5000 + seq, reason: "result", simulated: false,
  };
}

describe("RoomState", () => {
  it("derives joins and leaves from connected flipping, and the level from connected participants only", () => {
    const room = new RoomState("r");
    const types = (r: RoomReport) => room.apply(r).watch.map((e) => e.type);
    expect(types(report("a", "clear", true))).toEqual(["participant_joined"]);
    expect(types(report("a", "clear", true))).toEqual([]); // a repeated state announces nothing
    expect(types(report("b", "clear", true))).toEqual(["participant_joined"]);
    const a1 = alert("a", "alert", "clear");
    const applied = room.apply(report("a", "alert", true, { event: a1 }));
    expect(applied.watch).toEqual([a1, { type: "room_level", room_id: "r", level: "alert", previous_level: "clear" }]);
    expect(applied.logged).toBe(a1);
    expect(applied.listingChanged).toBe(true);
    // Another participant's SUSPICIOUS does not move an ALERT room, and the directory is not told.
    const b1 = alert("b", "suspicious", "clear");
    const quiet = room.apply(report("b", "suspicious", true, { event: b1 }));
    expect(quiet.watch).toEqual([b1]);
    expect(quiet.listingChanged).toBe(false);
    // A leaving, still listed: the room's level counts connected participants only.
    const left = room.apply(report("a", "alert", false));
    expect(left.watch).toEqual([
      { type: "participant_left", room_id: "r", participant_id: "a" },
      { type: "room_level", room_id: "r", level: "suspicious", previous_level: "alert" },
    ]);
    expect(room.snapshot().participants.map((p) => [p.participant_id, p.connected, p.level])).toEqual([
      ["a", false, "alert"],
      ["b", true, "suspicious"],
    ]);
    expect(room.snapshot().participants[0]!.last_event).toEqual(a1);
    expect(room.listing(2)).toEqual({ room_id: "r", level: "suspicious", connected: 1, participants: 2, alerts_last_hour: 2 });
  });

  it("an event in the same report as a leave comes before participant_left", () => {
    const room = new RoomState("r");
    room.apply(report("a", "alert", true));
    const closed = alert("a", "clear", "alert");
    expect(room.apply(report("a", "clear", false, { event: closed })).watch.map((e) => e.type)).toEqual(["deepfake_alert", "participant_left", "room_level"]);
  });

  it("applies a retried report once; a new session of the participant starts afresh", () => {
    const room = new RoomState("r");
    const r1 = report("a", "alert", true, { event: alert("a", "alert", "clear") });
    expect(room.apply(r1).accepted).toBe(true);
    expect(room.apply(r1)).toMatchObject({ accepted: false, watch: [] });
    expect(room.apply({ ...report("a", "clear", true), seq: 1, session: "s2" }).accepted).toBe(true);
    expect(room.level).toBe("clear");
  });

  it("a removed participant leaves the listing; restarting from stored records keeps the level", () => {
    const room = new RoomState("r");
    room.apply(report("a", "alert", true));
    room.apply(report("b", "clear", true));
    const restored = new RoomState("r", room.snapshot().participants.map((p) => ({ ...p, session: "s1", seq: 99 })));
    expect(restored.level).toBe("alert");
    const removed = restored.apply({ ...report("a", "alert", false), removed: true, seq: 100 });
    expect(removed.watch.map((e) => e.type)).toEqual(["participant_left", "room_level"]);
    expect(removed.record).toBeNull();
    expect(restored.size).toBe(1);
  });

  it("roomLevel: the most severe connected level, clear when nobody is connected", () => {
    expect(roomLevel([])).toBe("clear");
    expect(roomLevel([{ level: "alert", connected: false }, { level: "suspicious", connected: true }])).toBe("suspicious");
  });

  it("parseRoomReport refuses malformed reports and drops malformed tracks", () => {
    expect(parseRoomReport(null)).toBeNull();
    expect(parseRoomReport({ ...report("a", "clear", true), state: { level: "red" } })).toBeNull();
    const ok = parseRoomReport({ ...report("a", "alert", true), state: { level: "alert", since_ms: 1, connected: true, tracks: [{ track_id: "c", level: "alert" }, { x: 1 }] } });
    expect(ok?.state.tracks).toEqual([{ track_id: "c", level: "alert" }]);
  });
});

describe("directory", () => {
  const entry = (room: string, level: Level, connected: number, alerts: number[] = [], updated = 10_000): DirectoryUpdate => ({
    room_id: room, level, connected, participants: connected + 1, alert_times_ms: alerts, updated_ms: updated,
  });

  it("lists the most urgent rooms first and counts alerts in the last hour only", () => {
    const now = 10_000_000;
    const rooms = listRooms([entry("b", "clear", 3), entry("a", "alert", 1, [now - 1000, now - 3_700_000]), entry("c", "suspicious", 2)], now, 0, 10);
    expect(rooms.map((r) => r.room_id)).toEqual(["a", "c", "b"]);
    expect(rooms[0]).toEqual({ room_id: "a", level: "alert", connected: 1, participants: 2, alerts_last_hour: 1 });
    expect(alertsWithin([now, now - 3_600_001], now)).toBe(1);
  });

  it("drops rooms nobody is connected to that it has not heard of since the retention window", () => {
    expect(listRooms([entry("old", "clear", 0, [], 5), entry("live", "clear", 1, [], 5)], 100, 50, 10).map((r) => r.room_id)).toEqual(["live"]);
  });

  it("parseDirectoryUpdate validates what a room sends", () => {
    expect(parseDirectoryUpdate({ room_id: "r", level: "alert", connected: -1, participants: 1, alert_times_ms: [], updated_ms: 1 })).toBeNull();
    expect(parseDirectoryUpdate(entry("r", "clear", 1))).toEqual(entry("r", "clear", 1));
  });
});

describe("membership", () => {
  it("the token's room, or ?room= only where tokens are optional", () => {
    expect(chooseRoom("r1", null, false)).toEqual({ ok: true, room: "r1" });
    expect(chooseRoom(undefined, null, false)).toEqual({ ok: true, room: null });
    expect(chooseRoom(undefined, "r2", true)).toEqual({ ok: true, room: "r2" });
    expect(chooseRoom(undefined, "r2", false).ok).toBe(false);
    expect(chooseRoom("r1", "r2", true).ok).toBe(false);
    expect(chooseRoom(undefined, "bad room", true).ok).toBe(false);
  });

  it("the router's header replaces a client's copy", () => {
    const forged = new Request("https://x/v1/participants/p/stream", { headers: { [ROOM_HEADER]: "forged" } });
    expect(roomFromHeaders(withRoomHeader(forged, null).headers)).toBeNull();
    expect(roomFromHeaders(withRoomHeader(forged, "real").headers)).toBe("real");
  });

  it("a participant with sockets open keeps its room; one without moves", () => {
    expect(admitRoom("a", "b", 0)).toEqual({ ok: true, room: "b" });
    expect(admitRoom("a", null, 1)).toEqual({ ok: true, room: "a" });
    expect(admitRoom("a", "b", 1).ok).toBe(false);
  });
});

describe("RetrySender", () => {
  it("sends in the background, retries after doubling delays from the alarm, and resets on success", async () => {
    let now = 0;
    let fail = 2;
    let sends = 0;
    let pending = true;
    const failures: number[] = [];
    const sender = new RetrySender({
      send: async () => {
        sends++;
        if (fail-- > 0) throw new Error("down");
        pending = false;
        return false;
      },
      pending: () => pending,
      timeoutMs: 1000, initialMs: 500, maxMs: 30_000,
      rearm: () => undefined,
      failed: (_r, n) => failures.push(n),
      now: () => now,
    });
    sender.kick();
    await sender.settled();
    expect(sender.nextDeadline(now)).toBe(500);
    sender.kick(); // waits for its retry: no new attempt
    await sender.settled();
    expect(sends).toBe(1);
    now = 500;
    await sender.onDeadline();
    expect(sender.nextDeadline(now)).toBe(1500);
    now = 1500;
    await sender.onDeadline();
    expect([sends, failures, sender.failures, sender.nextDeadline(now)]).toEqual([3, [1, 2], 0, null]);
  });

  it("a send that never answers counts as failed after the timeout", async () => {
    const sender = new RetrySender({
      send: () => new Promise<boolean>(() => undefined),
      pending: () => true,
      timeoutMs: 20, initialMs: 500, maxMs: 30_000,
      rearm: () => undefined, failed: () => undefined, now: () => 0,
    });
    sender.kick();
    await sender.settled();
    expect(sender.failures).toBe(1);
  });
});
