/**
 * Worker -> client events (docs/DESIGN.md §5): JSON text, one object per message, with a `type`.
 */
import type { Level } from "./levels.js";

/** Why the level moved: an upstream result, or a track that stopped counting. */
export type AlertReason = "result" | "track_expired" | "track_closed";

/** The webhook payload of docs/DESIGN.md §7, also pushed to client sockets on every transition. */
export interface DeepfakeAlert {
  type: "deepfake_alert";
  id: string;
  level: Level;
  previous_level: Level;
  participant_id: string;
  /** The participant's room (docs/DESIGN.md §12), or null. */
  room_id: string | null;
  track_id: string;
  message: string;
  timestamp_ms: number;
  reason: AlertReason;
  /** True when the built-in simulator produced the result (development mode): never a real detection. */
  simulated: boolean;
}

/**
 * Whether the service needs this connection's speech (docs/DESIGN.md §5): false for the audio interval
 * after a chunk was sent (the service would discard it), true again once the pause is over.
 */
export interface AudioHintEvent {
  type: "audio";
  wanted: boolean;
  /** Until when (the service's clock, ms since the epoch) speech is not wanted; 0 when wanted. */
  until_ms: number;
  /** The same deadline as a delay from now, for clients whose clock differs from the service's. */
  resume_in_ms: number;
}

/** How an on-demand check ended (docs/DESIGN.md §13). */
export type CheckOutcome = "answered" | "window_ended" | "no_media";

/** An on-demand check of the participant began (docs/DESIGN.md §13). */
export interface CheckStarted {
  type: "check_started";
  check_id: string;
  participant_id: string;
  room_id: string | null;
  until_ms: number;
}

/**
 * An on-demand check ended: pushed to the sockets and POSTed to the webhooks like a transition
 * (docs/DESIGN.md §13).
 */
export interface CheckCompleted {
  type: "check_completed";
  id: string;
  check_id: string;
  participant_id: string;
  room_id: string | null;
  /** The participant's level when the check completed. */
  level: Level;
  outcome: CheckOutcome;
  /** Results seen within the window (0: no media arrived). */
  results: number;
  /** Each track's latest level within the window. */
  tracks: Array<{ track_id: string; level: Level }>;
  started_ms: number;
  completed_ms: number;
  simulated: boolean;
}

export type ServerEvent =
  | {
      type: "ready";
      participant_id: string;
      room_id: string | null;
      level: Level;
      /** This connection's rate now; normal_fps and burst_fps are its rates in CLEAR/ALERT and SUSPICIOUS. */
      video_fps: number;
      normal_fps: number;
      burst_fps: number;
      simulated: boolean;
      dev_mode: boolean;
      /** The deployment's JPEG quality (0-100): a client that encodes its own JPEGs uses it. */
      jpeg_quality: number;
      /** The deployment's minimum seconds between two audio chunks (the pause the `audio` event announces). */
      audio_interval_s: number;
      notice?: string;
    }
  | { type: "rate"; video_fps: number }
  | AudioHintEvent
  | DeepfakeAlert
  | { type: "upstream"; status: "connected" | "reconnecting"; retry_in_ms?: number }
  | { type: "upstream_error"; track_id: string; message: string }
  | { type: "error"; code: string; message: string }
  | CheckStarted
  | CheckCompleted;

/** A sortable, unique event id: time prefix (ms, base36) + 80 random bits. */
export function newEventId(nowMs: number): string {
  return sortableId("evt_", nowMs);
}

/** A check id (`chk_…`), built like an event id. */
export function newCheckId(nowMs: number): string {
  return sortableId("chk_", nowMs);
}

function sortableId(prefix: string, nowMs: number): string {
  const random = new Uint8Array(10);
  crypto.getRandomValues(random);
  let suffix = "";
  for (const byte of random) suffix += byte.toString(16).padStart(2, "0");
  return `${prefix}${nowMs.toString(36).padStart(9, "0")}${suffix}`;
}
