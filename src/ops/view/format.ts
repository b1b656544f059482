/**
 * Words and times of the operations view: log lines for watch events, durations, the rooms list's
 * order. Pure (unit-tested in Node). Times are shown in the browser's time zone.
 */
import { levelRank } from "../../protocol/levels.js";
import type { Level } from "../../protocol/levels.js";
import type { LastEvent, RoomSummary, WatchEvent } from "./parse.js";

export type LogKind = Level | "info" | "check";

const upper = (level: Level) => level.toUpperCase();

function trackPart(trackId: string): string {
  return trackId ? ` on ${trackId}` : "";
}

/** The log line of an event (`again`: a snapshot after a reconnect); an empty text is not logged. */
export function describeEvent(event: WatchEvent, again = false): { kind: LogKind; text: string } {
  switch (event.type) {
    case "room": {
      const connected = event.participants.filter((p) => p.connected).length;
      const counts = `${connected} of ${event.participants.length} connected`;
      const what = again ? "live again" : `watching ${event.roomId}`;
      return { kind: "info", text: `${what}: ${upper(event.level)}, ${counts}` };
    }
    case "participant_joined":
      return { kind: "info", text: `${event.participantId} joined` };
    case "participant_left":
      return { kind: "info", text: `${event.participantId} left` };
    case "deepfake_alert": {
      const why =
        event.reason === "track_expired"
          ? ` (${event.trackId} went silent)`
          : event.reason === "track_closed"
            ? ` (${event.trackId} closed)`
            : trackPart(event.trackId);
      const message = event.message ? ` · ${event.message}` : "";
      const sim = event.simulated ? " · simulated" : "";
      const moved = `${upper(event.level)} (was ${event.previousLevel})`;
      return { kind: event.level, text: `${event.participantId}: ${moved}${why}${message}${sim}` };
    }
    case "check_started":
      return { kind: "check", text: `${event.participantId}: check started, until ${clock(event.untilMs)}` };
    case "check_completed":
      const kind = event.outcome === "no_media" ? "info" : event.level;
      return { kind, text: `${event.participantId}: check ${checkSummary(event)}` };
    case "room_level":
      const was = event.previousLevel ? ` (was ${event.previousLevel})` : "";
      return { kind: event.level, text: `room ${upper(event.level)}${was}` };
    case "unknown":
      return { kind: "info", text: "" };
  }
}

/** A tile's line about the participant's last transition; empty when none is known (checks show apart). */
export function lastEventText(e: LastEvent | null): string {
  if (!e || e.type !== "deepfake_alert" || !e.level) return "";
  const at = e.atMs ? ` ${clock(e.atMs)}` : "";
  const was = e.previousLevel ? ` (was ${e.previousLevel})` : "";
  const why =
    e.reason === "track_expired" ? ", a track went silent" : e.reason === "track_closed" ? ", a track closed" : "";
  return `Last change${at}: ${upper(e.level)}${was}${e.trackId ? ` on ${e.trackId}` : ""}${why}`;
}

/** What a check found: "CLEAR · answered · 3 results in 2.7 s", or that no media came. */
export function checkSummary(check: CheckFacts): string {
  if (check.outcome === "no_media") return "found no media (0 results)";
  const took = check.startedMs ? ` in ${seconds(check.completedMs - check.startedMs)}` : "";
  const outcome = check.outcome === "window_ended" ? "window ended before every track answered" : check.outcome;
  const results = `${check.results} result${check.results === 1 ? "" : "s"}`;
  return `${upper(check.level)} · ${outcome} · ${results}${took}`;
}

interface CheckFacts {
  level: Level;
  outcome: string;
  results: number;
  startedMs?: number | null;
  completedMs: number;
}

function seconds(ms: number): string {
  return `${(Math.max(0, ms) / 1000).toFixed(1)} s`;
}

const pad = (n: number) => String(n).padStart(2, "0");

/** "14:03:07" in the local time zone. */
export function clock(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "just now", "42 s", "3 min", "2 h 5 min", "3 d": how long ago `thenMs` was. */
export function ago(thenMs: number, nowMs: number): string {
  const s = Math.max(0, Math.floor((nowMs - thenMs) / 1000));
  if (s < 5) return "just now";
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 24) return min % 60 ? `${h} h ${min % 60} min` : `${h} h`;
  return `${Math.floor(h / 24)} d`;
}

/** Seconds left in a running check, rounded up ("7 s"); 0 once the window has passed. */
export function secondsLeft(untilMs: number, nowMs: number): number {
  return Math.max(0, Math.ceil((untilMs - nowMs) / 1000));
}

/** Rooms that need a moderator first: worst level, then most alerts in the last hour, then name. */
export function sortRooms(rooms: readonly RoomSummary[]): RoomSummary[] {
  return [...rooms].sort(
    (a, b) =>
      levelRank(b.level) - levelRank(a.level) ||
      b.alertsLastHour - a.alertsLastHour ||
      a.roomId.localeCompare(b.roomId),
  );
}

/** The tab title: the level first, so a tab in the background still says ALERT. */
export function pageTitle(what: string, level: Level | null): string {
  if (level === "alert") return `⚠ ALERT · ${what}`;
  if (level === "suspicious") return `SUSPICIOUS · ${what}`;
  return what;
}
