/**
 * The operations view's pure parts (src/ops/view): parsing the §12/§13 shapes, and the reducer from
 * watch events to what the page shows.
 */
import { describe, expect, it } from "vitest";
import { ago, checkSummary, describeEvent, lastEventText, pageTitle, secondsLeft, sortRooms } from "../../src/ops/view/format.js";
import { parseEventsPage, parseRoomList, parseRoomSnapshot, parseWatchEvent, type WatchEvent } from "../../src/ops/view/parse.js";
import {
  LOG_MAX_ENTRIES,
  applyEvent,
  emptyRoom,
  isFresh,
  tileOrder,
  withCheckStarted,
  withHistory,
  withSnapshot,
  type RoomView,
} from "../../src/ops/view/room-state.js";

const T0 = 1_730_123_456_789;

const snapshot = {
  type: "room",
  room_id: "panel-1",
  level: "suspicious",
  participants: [
    {
      participant_id: "alice",
      level: "clear",
      since_ms: T0 - 60_000,
      connected: true,
      tracks: [{ track_id: "camera", level: "clear" }],
      last_event: null,
    },
    {
      participant_id: "bob",
      level: "suspicious",
      since_ms: T0 - 5_000,
      connected: true,
      tracks: [
        { track_id: "camera", level: "suspicious" },
        { track_id: "microphone", level: "clear" },
      ],
      last_event: { type: "deepfake_alert", id: "evt_1", level: "suspicious", previous_level: "clear", track_id: "camera", timestamp_ms: T0 - 5_000, reason: "result" },
    },
  ],
};

const alert = (over: Record<string, unknown> = {}) => ({
  type: "deepfake_alert",
  id: "evt_2",
  level: "alert",
  previous_level: "suspicious",
  participant_id: "bob",
  room_id: "panel-1",
  track_id: "camera",
  message: "face swap",
  timestamp_ms: T0,
  reason: "result",
  simulated: false,
  ...over,
});

function parse(message: unknown): WatchEvent {
  const parsed = parseWatchEvent(JSON.stringify(message));
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value;
}

function play(messages: unknown[], start: RoomView = emptyRoom("panel-1"), nowMs = T0): RoomView {
  return messages.reduce<RoomView>((view, m) => applyEvent(view, parse(m), nowMs), start);
}

describe("parsing the room API", () => {
  it("reads the rooms list and drops entries without an id", () => {
    const parsed = parseRoomList({
      rooms: [
        { room_id: "a", level: "alert", connected: 2, participants: 3, alerts_last_hour: 4 },
        { level: "clear" },
        "junk",
        { room_id: "b", level: "bogus", connected: -1, participants: "x" },
      ],
    });
    expect(parsed).toEqual({
      ok: true,
      value: [
        { roomId: "a", level: "alert", connected: 2, participants: 3, alertsLastHour: 4 },
        { roomId: "b", level: "clear", connected: 0, participants: 0, alertsLastHour: 0 },
      ],
    });
    expect(parseRoomList({ nope: [] }).ok).toBe(false);
  });

  it("reads a room snapshot with its participants, tracks and last event", () => {
    const parsed = parseRoomSnapshot(snapshot);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value.level).toBe("suspicious");
    expect(parsed.value.participants.map((p) => [p.participantId, p.level, p.tracks.length])).toEqual([
      ["alice", "clear", 1],
      ["bob", "suspicious", 2],
    ]);
    expect(parsed.value.participants[1]?.lastEvent).toMatchObject({ level: "suspicious", previousLevel: "clear", trackId: "camera", atMs: T0 - 5_000 });
    expect(parseRoomSnapshot({ level: "clear" }).ok).toBe(false);
  });

  it("reads every watch event, refuses malformed ones and passes unknown types through", () => {
    expect(parse(alert())).toMatchObject({ type: "deepfake_alert", level: "alert", previousLevel: "suspicious", participantId: "bob", trackId: "camera" });
    expect(parse({ type: "participant_joined", room_id: "r", participant_id: "carol" })).toEqual({ type: "participant_joined", participantId: "carol" });
    expect(parse({ type: "room_level", room_id: "r", level: "alert", previous_level: "clear" })).toEqual({ type: "room_level", level: "alert", previousLevel: "clear" });
    expect(parse({ type: "check_started", check_id: "chk_1", participant_id: "bob", room_id: "r", until_ms: T0 + 10_000 })).toEqual({
      type: "check_started",
      checkId: "chk_1",
      participantId: "bob",
      untilMs: T0 + 10_000,
    });
    expect(parse({ type: "something_new", x: 1 })).toEqual({ type: "unknown", name: "something_new" });
    for (const bad of ["not json", "[]", '{"no":"type"}', '{"type":"deepfake_alert","level":"alert"}', '{"type":"check_started","check_id":"c"}', '{"type":"room_level","level":"red"}']) {
      expect(parseWatchEvent(bad).ok, bad).toBe(false);
    }
  });

  it("reads a page of room events: transitions and completed checks", () => {
    const parsed = parseEventsPage({
      events: [alert(), { type: "check_completed", id: "evt_3", check_id: "chk_1", participant_id: "bob", level: "clear", outcome: "answered", results: 2, tracks: [], completed_ms: T0 + 1 }, { type: "other" }],
      next_after: "evt_3",
    });
    expect(parsed.ok && parsed.value.events.map((e) => e.type)).toEqual(["deepfake_alert", "check_completed"]);
    expect(parsed.ok && parsed.value.nextAfter).toBe("evt_3");
  });
});

describe("the room reducer", () => {
  it("starts from the snapshot: level, tiles, tracks", () => {
    const view = play([snapshot]);
    expect(view.loaded).toBe(true);
    expect(view.level).toBe("suspicious");
    expect(view.participants.map((p) => `${p.participantId}:${p.level}`)).toEqual(["alice:clear", "bob:suspicious"]);
    expect(view.log[0]?.text).toBe("watching panel-1: SUSPICIOUS, 2 of 2 connected");
  });

  it("a transition moves the participant's badge, the track that raised it, and logs it; room_level moves the room", () => {
    const view = play([snapshot, alert(), { type: "room_level", room_id: "panel-1", level: "alert", previous_level: "suspicious" }], undefined, T0 + 50);
    const bob = view.participants.find((p) => p.participantId === "bob");
    expect(bob?.level).toBe("alert");
    expect(bob?.sinceMs).toBe(T0);
    expect(bob?.changedAtMs).toBe(T0 + 50);
    expect(bob?.tracks).toEqual([
      { trackId: "camera", level: "alert" },
      { trackId: "microphone", level: "clear" },
    ]);
    expect(bob?.lastEvent).toMatchObject({ level: "alert", previousLevel: "suspicious", trackId: "camera", atMs: T0 });
    expect(view.level).toBe("alert");
    expect(view.log.map((e) => e.text)).toContain("bob: ALERT (was suspicious) on camera · face swap");
    expect(view.log.find((e) => e.key === "evt_2")?.kind).toBe("alert");
  });

  it("a fall names the track that allowed it, which is at most the new level", () => {
    const view = play([snapshot, alert({ id: "evt_9", level: "clear", previous_level: "suspicious" })]);
    const bob = view.participants.find((p) => p.participantId === "bob");
    expect(bob?.tracks.find((t) => t.trackId === "camera")?.level).toBe("clear");
  });

  it("a track that expired or closed leaves the tile's track list", () => {
    const view = play([snapshot, alert({ id: "evt_5", level: "clear", previous_level: "suspicious", reason: "track_expired" })]);
    expect(view.participants.find((p) => p.participantId === "bob")?.tracks.map((t) => t.trackId)).toEqual(["microphone"]);
    expect(view.log[0]?.text).toContain("(camera went silent)");
  });

  it("joins add a tile, leaves keep it as disconnected and take it out of the room level", () => {
    let view = play([snapshot, { type: "participant_joined", room_id: "panel-1", participant_id: "carol" }]);
    expect(view.participants.map((p) => p.participantId)).toEqual(["alice", "bob", "carol"]);
    view = play([{ type: "participant_left", room_id: "panel-1", participant_id: "bob" }], view);
    expect(view.participants.find((p) => p.participantId === "bob")?.connected).toBe(false);
    expect(view.level).toBe("clear");
    expect(tileOrder(view).map((p) => p.participantId)).toEqual(["alice", "carol", "bob"]);
    expect(view.log.slice(0, 2).map((e) => e.text)).toEqual(["bob left", "carol joined"]);
  });

  it("a check runs from check_started to check_completed, whose tracks replace the tile's", () => {
    let view = play([snapshot, { type: "check_started", check_id: "chk_1", participant_id: "alice", room_id: "panel-1", until_ms: T0 + 10_000 }]);
    expect(view.participants[0]?.check).toEqual({ checkId: "chk_1", untilMs: T0 + 10_000 });
    view = play(
      [
        {
          type: "check_completed",
          id: "evt_7",
          check_id: "chk_1",
          participant_id: "alice",
          room_id: "panel-1",
          level: "clear",
          outcome: "answered",
          results: 3,
          tracks: [
            { track_id: "camera", level: "clear" },
            { track_id: "microphone", level: "clear" },
          ],
          started_ms: T0,
          completed_ms: T0 + 2_700,
          simulated: false,
        },
      ],
      view,
    );
    const alice = view.participants[0];
    expect(alice?.check).toBeNull();
    expect(alice?.lastCheck).toMatchObject({ checkId: "chk_1", level: "clear", outcome: "answered", results: 3 });
    expect(alice?.tracks.map((t) => t.trackId)).toEqual(["camera", "microphone"]);
    expect(view.log[0]?.text).toBe("alice: check CLEAR · answered · 3 results in 2.7 s");
  });

  it("a check the page started shows at once, and the socket's check_started for it changes nothing", () => {
    const started = withCheckStarted(play([snapshot]), "alice", { checkId: "chk_2", untilMs: T0 + 10_000 });
    const echoed = play([{ type: "check_started", check_id: "chk_2", participant_id: "alice", until_ms: T0 + 10_000 }], started);
    expect(echoed.participants[0]?.check).toEqual(started.participants[0]?.check);
  });

  it("a POST answer that arrives after the check completed on the socket does not restart it", () => {
    const completed = play([
      snapshot,
      { type: "check_started", check_id: "chk_3", participant_id: "alice", until_ms: T0 + 10_000 },
      { type: "check_completed", id: "evt_8", check_id: "chk_3", participant_id: "alice", level: "clear", outcome: "answered", results: 1, tracks: [], completed_ms: T0 + 100 },
    ]);
    const late = withCheckStarted(completed, "alice", { checkId: "chk_3", untilMs: T0 + 10_000 });
    expect(late.participants[0]?.check).toBeNull();
    expect(late.participants[0]?.lastCheck?.checkId).toBe("chk_3");
  });

  it("a check reported as the room's last event does not hide the tile's last transition", () => {
    const view = play([snapshot]);
    const bobLast = view.participants[1]?.lastEvent;
    const checked = {
      ...snapshot,
      participants: [snapshot.participants[0], { ...snapshot.participants[1], last_event: { type: "check_started", check_id: "chk_4" } }],
    };
    const after = play([checked], view);
    expect(after.participants[1]?.lastEvent).toEqual(bobLast);
  });

  it("a page opened after a check shows it from the snapshot's last event", () => {
    const done = { type: "check_completed", id: "evt_9", check_id: "chk_9", participant_id: "alice", level: "clear", outcome: "answered", results: 2, completed_ms: T0 };
    const view = play([{ ...snapshot, participants: [{ ...snapshot.participants[0], last_event: done }, snapshot.participants[1]] }]);
    expect(view.participants[0]?.lastCheck).toEqual({ checkId: "chk_9", level: "clear", outcome: "answered", results: 2, completedMs: T0 });
  });

  it("a reconnect snapshot keeps the log, a running check and the last check, and marks changed levels", () => {
    let view = play([snapshot, { type: "check_started", check_id: "chk_1", participant_id: "alice", until_ms: T0 + 10_000 }]);
    const again = { ...snapshot, level: "alert", participants: [{ ...snapshot.participants[0], level: "alert" }, snapshot.participants[1]] };
    view = play([again], view, T0 + 1_000);
    expect(view.level).toBe("alert");
    expect(view.participants[0]).toMatchObject({ level: "alert", changedAtMs: T0 + 1_000, check: { checkId: "chk_1" } });
    expect(view.participants[1]?.changedAtMs).toBeNull();
    expect(view.log).toHaveLength(3);
    expect(view.log.map((e) => e.text)).toContain("live again: ALERT, 2 of 2 connected");
    // A check whose window passed while disconnected is not shown as running.
    view = play([again], view, T0 + 11_000);
    expect(view.participants[0]?.check).toBeNull();
  });

  it("history fills the log without duplicating what the socket already delivered", () => {
    let view = play([snapshot, alert()]);
    view = withHistory(view, [parse(alert()) as never, parse(alert({ id: "evt_0", level: "suspicious", previous_level: "clear", timestamp_ms: T0 - 5_000 })) as never]);
    expect(view.log.filter((e) => e.key === "evt_2")).toHaveLength(1);
    expect(view.log.map((e) => e.key)).toContain("evt_0");
    // Newest first.
    const times = view.log.map((e) => e.atMs);
    expect([...times].sort((a, b) => b - a)).toEqual(times);
  });

  it("keeps at most LOG_MAX_ENTRIES log lines", () => {
    const events = Array.from({ length: LOG_MAX_ENTRIES + 50 }, (_, i) => alert({ id: `evt_${i}`, timestamp_ms: T0 + i }));
    const view = play([snapshot, ...events]);
    expect(view.log).toHaveLength(LOG_MAX_ENTRIES);
    expect(view.log[0]?.key).toBe(`evt_${LOG_MAX_ENTRIES + 49}`);
  });

  it("a snapshot fetched before the last event is not applied over it", () => {
    const view = play([snapshot]);
    const appliedAtFetch = view.applied;
    const later = play([alert()], view);
    expect(isFresh(later, appliedAtFetch)).toBe(false);
    expect(isFresh(view, appliedAtFetch)).toBe(true);
    const stale = parseRoomSnapshot(snapshot);
    if (stale.ok) expect(withSnapshot(view, stale.value, T0).participants[1]?.level).toBe("suspicious");
  });

  it("unknown events are counted and change nothing else", () => {
    const view = play([snapshot]);
    const after = play([{ type: "future_event" }], view);
    expect(after.ignored).toBe(1);
    expect(after.participants).toEqual(view.participants);
    expect(after.log).toEqual(view.log);
  });
});

describe("words and times", () => {
  it("orders rooms worst first, then by alerts, then by name", () => {
    const rooms = sortRooms([
      { roomId: "c", level: "clear", connected: 1, participants: 1, alertsLastHour: 0 },
      { roomId: "b", level: "alert", connected: 1, participants: 1, alertsLastHour: 1 },
      { roomId: "a", level: "clear", connected: 1, participants: 1, alertsLastHour: 3 },
      { roomId: "d", level: "suspicious", connected: 1, participants: 1, alertsLastHour: 0 },
      { roomId: "e", level: "alert", connected: 1, participants: 1, alertsLastHour: 5 },
    ]);
    expect(rooms.map((r) => r.roomId)).toEqual(["e", "b", "d", "a", "c"]);
  });

  it("says how long ago, how long is left, and what a check found", () => {
    expect(ago(T0 - 2_000, T0)).toBe("just now");
    expect(ago(T0 - 42_000, T0)).toBe("42 s");
    expect(ago(T0 - 185_000, T0)).toBe("3 min");
    expect(ago(T0 - 7_500_000, T0)).toBe("2 h 5 min");
    expect(secondsLeft(T0 + 6_200, T0)).toBe(7);
    expect(secondsLeft(T0 - 1, T0)).toBe(0);
    expect(checkSummary({ level: "alert", outcome: "no_media", results: 0, completedMs: T0 })).toBe("found no media (0 results)");
    expect(checkSummary({ level: "suspicious", outcome: "window_ended", results: 1, completedMs: T0 })).toBe("SUSPICIOUS · window ended before every track answered · 1 result");
    expect(pageTitle("room", "alert")).toBe("⚠ ALERT · room");
    expect(pageTitle("room", "clear")).toBe("room");
  });

  it("says what a tile's last transition was, and nothing for a check", () => {
    const base = { trackId: null, atMs: null, reason: null, outcome: null, previousLevel: null, checkId: null, results: 0 };
    expect(lastEventText(null)).toBe("");
    expect(lastEventText({ ...base, type: "deepfake_alert", level: "alert", previousLevel: "clear", trackId: "camera", reason: "result" })).toBe(
      "Last change: ALERT (was clear) on camera",
    );
    expect(lastEventText({ ...base, type: "deepfake_alert", level: "clear", previousLevel: "alert", trackId: "camera", reason: "track_closed" })).toBe(
      "Last change: CLEAR (was alert) on camera, a track closed",
    );
    expect(lastEventText({ ...base, type: "check_completed", level: "clear", outcome: "answered" })).toBe("");
    expect(lastEventText({ ...base, type: "check_started", level: null })).toBe("");
  });

  it("logs a simulated transition as simulated", () => {
    expect(describeEvent(parse(alert({ simulated: true, message: "" }))).text).toBe("bob: ALERT (was suspicious) on camera · simulated");
  });
});
