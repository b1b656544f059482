/**
 * The operations view's model of one room: a pure reducer from the watch socket's events (docs/DESIGN.md
 * §12, §13) and the room's history to what the page shows. Nothing here touches the DOM, so the
 * whole behaviour is unit-tested in Node; the browser code only renders a RoomView.
 *
 * Events are applied in the order the socket delivers them. A `room` snapshot (the first message
 * after every (re)connect) replaces the participants' server-side state but keeps what only this
 * page knows: a check still running, the last completed check, when a level last changed, the log.
 */
import { levelRank, type Level } from "../../protocol/levels.js";
import { describeEvent, type LogKind } from "./format.js";
import type {
  AlertEvent,
  CheckCompleted,
  ParticipantEntry,
  RoomSnapshot,
  TrackLevel,
  WatchEvent,
} from "./parse.js";

/** How many log lines the page keeps (newest first). */
export const LOG_MAX_ENTRIES = 200;

export interface RunningCheck {
  checkId: string;
  untilMs: number;
}

export interface DoneCheck {
  checkId: string;
  level: Level;
  outcome: string;
  results: number;
  completedMs: number;
}

export interface ParticipantView extends ParticipantEntry {
  check: RunningCheck | null;
  lastCheck: DoneCheck | null;
  /** This page's clock when the level last changed while it watched (drives the "just changed" highlight). */
  changedAtMs: number | null;
}

export interface LogEntry {
  /** The event id when the event has one (dedupes history against the live stream), else a local key. */
  key: string;
  atMs: number;
  participantId: string | null;
  kind: LogKind;
  text: string;
}

export interface RoomView {
  roomId: string;
  level: Level;
  /** False until the first snapshot arrived. */
  loaded: boolean;
  participants: ParticipantView[];
  log: LogEntry[];
  /** Events applied so far: a snapshot fetched before the last event is stale (see `isFresh`). */
  applied: number;
  /** Messages the page did not recognise (counted, shown, otherwise ignored). */
  ignored: number;
}

export function emptyRoom(roomId: string): RoomView {
  return { roomId, level: "clear", loaded: false, participants: [], log: [], applied: 0, ignored: 0 };
}

function fresh(entry: ParticipantEntry): ParticipantView {
  return { ...entry, check: null, lastCheck: checkOf(entry), changedAtMs: null };
}

/** The completed check a snapshot reports as the participant's last event (a page opened after it). */
function checkOf(entry: ParticipantEntry): DoneCheck | null {
  const e = entry.lastEvent;
  if (e?.type !== "check_completed" || !e.checkId || !e.level || e.atMs === null) return null;
  const outcome = e.outcome ?? "answered";
  return { checkId: e.checkId, level: e.level, outcome, results: e.results, completedMs: e.atMs };
}

function addLog(log: LogEntry[], entry: LogEntry): LogEntry[] {
  if (log.some((e) => e.key === entry.key)) return log;
  const next = [entry, ...log];
  next.sort((a, b) => b.atMs - a.atMs);
  return next.length > LOG_MAX_ENTRIES ? next.slice(0, LOG_MAX_ENTRIES) : next;
}

function localKey(view: RoomView, type: string): string {
  return `local-${view.applied}-${type}`;
}

type Change = (p: ParticipantView) => ParticipantView;

/** The participants with `id` changed; someone the page has not seen yet is added first. */
function withParticipant(view: RoomView, id: string, change: Change): ParticipantView[] {
  const index = view.participants.findIndex((p) => p.participantId === id);
  if (index < 0) {
    const created = fresh({
      participantId: id,
      level: "clear",
      sinceMs: null,
      connected: true,
      tracks: [],
      lastEvent: null,
    });
    return [...view.participants, change(created)];
  }
  return view.participants.map((p, i) => (i === index ? change(p) : p));
}

/** The room's level counts connected participants only (§12). */
export function roomLevelOf(participants: readonly ParticipantView[]): Level {
  let worst: Level = "clear";
  for (const p of participants) if (p.connected && levelRank(p.level) > levelRank(worst)) worst = p.level;
  return worst;
}

function mergeSnapshot(view: RoomView, snapshot: RoomSnapshot, nowMs: number): RoomView {
  const previous = new Map(view.participants.map((p) => [p.participantId, p]));
  const participants = snapshot.participants.map((entry) => {
    const old = previous.get(entry.participantId);
    if (!old) return fresh(entry);
    const check = old.check && old.check.untilMs > nowMs ? old.check : null;
    const changedAtMs = view.loaded && old.level !== entry.level ? nowMs : old.changedAtMs;
    // The tile's "last change" is a transition: a check reported as the last event does not hide it.
    const lastEvent = entry.lastEvent?.type.startsWith("check_") ? (old.lastEvent ?? entry.lastEvent) : entry.lastEvent;
    return { ...entry, lastEvent, check, lastCheck: old.lastCheck ?? checkOf(entry), changedAtMs };
  });
  return { ...view, roomId: snapshot.roomId, level: snapshot.level, loaded: true, participants };
}

/** Per-track levels after a transition: the track that raised the level is known to be at it. */
function tracksAfterAlert(tracks: TrackLevel[], event: AlertEvent): TrackLevel[] {
  if (event.reason !== "result") return tracks.filter((t) => t.trackId !== event.trackId);
  const rising = levelRank(event.level) > levelRank(event.previousLevel);
  const known = tracks.find((t) => t.trackId === event.trackId);
  // A fall names the track whose result allowed it; its own level is at most the new level.
  const atMost = !known || levelRank(known.level) > levelRank(event.level);
  const trackLevel: Level = rising || atMost ? event.level : known.level;
  if (!known) return [...tracks, { trackId: event.trackId, level: trackLevel }];
  return tracks.map((t) => (t.trackId === event.trackId ? { ...t, level: trackLevel } : t));
}

function applyAlert(view: RoomView, event: AlertEvent, nowMs: number): RoomView {
  const participants = withParticipant(view, event.participantId, (p) => ({
    ...p,
    level: event.level,
    sinceMs: event.timestampMs || nowMs,
    connected: true,
    tracks: tracksAfterAlert(p.tracks, event),
    lastEvent: {
      checkId: null,
      results: 0,
      type: event.type,
      level: event.level,
      previousLevel: event.previousLevel,
      trackId: event.trackId || null,
      atMs: event.timestampMs || nowMs,
      reason: event.reason,
      outcome: null,
    },
    changedAtMs: nowMs,
  }));
  return { ...view, participants };
}

function applyCheckCompleted(view: RoomView, event: CheckCompleted, nowMs: number): RoomView {
  const participants = withParticipant(view, event.participantId, (p) => {
    // The check's tracks are each track's latest level within the window: newer than what we had.
    const tracks = [...p.tracks];
    for (const t of event.tracks) {
      const i = tracks.findIndex((x) => x.trackId === t.trackId);
      if (i < 0) tracks.push(t);
      else tracks[i] = t;
    }
    const lastCheck: DoneCheck = {
      checkId: event.checkId,
      level: event.level,
      outcome: event.outcome,
      results: event.results,
      completedMs: event.completedMs || nowMs,
    };
    return { ...p, tracks, check: p.check?.checkId === event.checkId ? null : p.check, lastCheck };
  });
  return { ...view, participants };
}

/** The historic events (GET /v1/rooms/:room/events) go into the log only; the snapshot has the state. */
export function withHistory(view: RoomView, events: ReadonlyArray<AlertEvent | CheckCompleted>): RoomView {
  let log = view.log;
  for (const event of events) {
    const line = describeEvent(event);
    const atMs = event.type === "deepfake_alert" ? event.timestampMs : event.completedMs;
    log = addLog(log, { key: event.id, atMs, participantId: event.participantId, kind: line.kind, text: line.text });
  }
  return { ...view, log };
}

/** One watch-socket event applied to the room at this page's time `nowMs`. */
export function applyEvent(view: RoomView, event: WatchEvent, nowMs: number): RoomView {
  const counted = { ...view, applied: view.applied + 1 };
  const line = describeEvent(event, view.loaded);
  const key = "id" in event && typeof event.id === "string" ? event.id : localKey(counted, event.type);
  const participantId = "participantId" in event ? event.participantId : null;
  const eventMs =
    event.type === "deepfake_alert" ? event.timestampMs : event.type === "check_completed" ? event.completedMs : 0;
  const entry: LogEntry = { key, atMs: eventMs || nowMs, participantId, kind: line.kind, text: line.text };
  const logged = line.text ? { ...counted, log: addLog(counted.log, entry) } : counted;
  const change = (f: Change) => withParticipant(logged, "participantId" in event ? event.participantId : "", f);
  switch (event.type) {
    case "room":
      return mergeSnapshot(logged, event, nowMs);
    case "participant_joined":
      return { ...logged, participants: change((p) => ({ ...p, connected: true })) };
    case "participant_left": {
      const participants = change((p) => ({ ...p, connected: false, check: null }));
      return { ...logged, participants, level: roomLevelOf(participants) };
    }
    case "deepfake_alert":
      return applyAlert(logged, event, nowMs);
    case "check_started": {
      const check = { checkId: event.checkId, untilMs: event.untilMs };
      return { ...logged, participants: change((p) => (p.lastCheck?.checkId === check.checkId ? p : { ...p, check })) };
    }
    case "check_completed":
      return applyCheckCompleted(logged, event, nowMs);
    case "room_level":
      return { ...logged, level: event.level };
    case "unknown":
      return { ...logged, ignored: logged.ignored + 1 };
  }
}

/**
 * A check this page started (the POST answer), shown at once; the socket's check_started agrees.
 * The answer may arrive after the check already completed on the socket: then it changes nothing.
 */
export function withCheckStarted(view: RoomView, participantId: string, check: RunningCheck): RoomView {
  const start: Change = (p) => (p.lastCheck?.checkId === check.checkId ? p : { ...p, check });
  return { ...view, participants: withParticipant(view, participantId, start) };
}

/**
 * Whether a snapshot fetched when `appliedAtFetch` events had been applied can replace the state:
 * not when an event arrived while it was in flight (it may predate that event).
 */
export function isFresh(view: RoomView, appliedAtFetch: number): boolean {
  return view.applied === appliedAtFetch;
}

/** A reconciling snapshot (GET /v1/rooms/:room): state only, no log line. */
export function withSnapshot(view: RoomView, snapshot: RoomSnapshot, nowMs: number): RoomView {
  return mergeSnapshot(view, snapshot, nowMs);
}

/** Connected participants first (in the server's order), then those who left. */
export function tileOrder(view: RoomView): ParticipantView[] {
  return [...view.participants.filter((p) => p.connected), ...view.participants.filter((p) => !p.connected)];
}
