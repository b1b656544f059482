/**
 * Worker -> client events (docs/DESIGN.md §5) as the SDK sees them: the server's own types, and a
 * parser that checks untrusted JSON text before it reaches typed listeners. Pure, no DOM.
 */
import { isLevel } from "../protocol/levels.js";
import type { ServerEvent } from "../protocol/events.js";

export type ServerEventType = ServerEvent["type"];
/** The event of one `type`, e.g. `EventOf<"rate">` is `{ type: "rate"; video_fps: number }`. */
export type EventOf<T extends ServerEventType> = Extract<ServerEvent, { type: T }>;
export type ReadyEvent = EventOf<"ready">;
export type RateEvent = EventOf<"rate">;
export type AudioEvent = EventOf<"audio">;
export type UpstreamEvent = EventOf<"upstream">;
export type UpstreamErrorEvent = EventOf<"upstream_error">;
export type ServerErrorEvent = EventOf<"error">;
export type CheckStartedEvent = EventOf<"check_started">;
export type CheckCompletedEvent = EventOf<"check_completed">;

type Fields = Record<string, unknown>;

const isString = (v: unknown): v is string => typeof v === "string";
const isFiniteNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isBoolean = (v: unknown): v is boolean => typeof v === "boolean";

/** Per type: the check of the fields that listeners rely on. Extra fields are kept (forward compatible). */
const CHECKS: { [T in ServerEventType]: (e: Fields) => boolean } = {
  ready: (e) =>
    isString(e.participant_id) &&
    isLevel(e.level) &&
    isFiniteNumber(e.video_fps) &&
    e.video_fps >= 0 &&
    isBoolean(e.simulated) &&
    isBoolean(e.dev_mode) &&
    (e.notice === undefined || isString(e.notice)),
  rate: (e) => isFiniteNumber(e.video_fps) && e.video_fps >= 0,
  audio: (e) =>
    isBoolean(e.wanted) && isFiniteNumber(e.until_ms) && isFiniteNumber(e.resume_in_ms) && e.resume_in_ms >= 0,
  deepfake_alert: (e) =>
    isString(e.id) &&
    isLevel(e.level) &&
    isLevel(e.previous_level) &&
    isString(e.participant_id) &&
    isString(e.track_id) &&
    isString(e.message) &&
    isFiniteNumber(e.timestamp_ms),
  upstream: (e) =>
    (e.status === "connected" || e.status === "reconnecting") &&
    (e.retry_in_ms === undefined || isFiniteNumber(e.retry_in_ms)),
  upstream_error: (e) => isString(e.track_id) && isString(e.message),
  error: (e) => isString(e.code) && isString(e.message),
  check_started: (e) => isString(e.check_id) && isString(e.participant_id) && isFiniteNumber(e.until_ms),
  check_completed: (e) =>
    isString(e.id) &&
    isString(e.check_id) &&
    isString(e.participant_id) &&
    isLevel(e.level) &&
    (e.outcome === "answered" || e.outcome === "window_ended" || e.outcome === "no_media") &&
    isFiniteNumber(e.results) &&
    Array.isArray(e.tracks) &&
    e.tracks.every(
      (t: unknown) =>
        typeof t === "object" && t !== null && isString((t as Fields).track_id) && isLevel((t as Fields).level),
    ),
};

export type ParsedEvent = { ok: true; event: ServerEvent } | { ok: false; reason: string };

/** Parses one text message from the Worker. Never throws. */
export function parseServerEvent(text: string): ParsedEvent {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: "not JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return { ok: false, reason: "not a JSON object" };
  const fields = value as Fields;
  const type = fields.type;
  if (!isString(type)) return { ok: false, reason: "no string `type`" };
  if (!Object.hasOwn(CHECKS, type))
    return { ok: false, reason: `unknown event type ${JSON.stringify(type.slice(0, 40))}` };
  if (!CHECKS[type as ServerEventType](fields)) return { ok: false, reason: `malformed ${type} event` };
  return { ok: true, event: fields as unknown as ServerEvent };
}
