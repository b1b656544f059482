/**
 * Rooms on the wire (docs/DESIGN.md §12): what `GET /v1/rooms`, `GET /v1/rooms/:room` and the watch
 * socket carry. JSON; every level is a word; `room_id` is always present. A leaf of the wire
 * contract, shared by the server and the pages that show rooms. Pure.
 */
import type { DeepfakeAlert } from "./events.js";
import type { Level } from "./levels.js";

/** A check event of a participant (docs/DESIGN.md §13), as its clients saw it (its other fields pass through). */
export interface CheckEvent {
  type: "check_started" | "check_completed";
  check_id: string;
  participant_id: string;
  room_id: string | null;
  /** check_completed: its event id (the room's event log pages by it). */
  id?: string;
}

/** The events of a participant that its room's watchers see, exactly as the participant's clients saw them. */
export type ParticipantEvent = DeepfakeAlert | CheckEvent;

export interface RoomTrack {
  track_id: string;
  level: Level;
}

export interface RoomParticipant {
  participant_id: string;
  level: Level;
  since_ms: number;
  connected: boolean;
  tracks: RoomTrack[];
  /** The participant's latest deepfake_alert or check event, or null. */
  last_event: ParticipantEvent | null;
}

/** `GET /v1/rooms/:room`, and the watch socket's first message (with `"type": "room"`). */
export interface RoomSnapshot {
  room_id: string;
  /** The most severe level of the connected participants (clear when none is connected). */
  level: Level;
  participants: RoomParticipant[];
}

/** One room of `GET /v1/rooms`. */
export interface RoomListing {
  room_id: string;
  level: Level;
  /** Participants connected now. */
  connected: number;
  /** Participants still listed (connected or not, until retention). */
  participants: number;
  alerts_last_hour: number;
}

export type WatchEvent =
  | ({ type: "room" } & RoomSnapshot)
  | { type: "participant_joined"; room_id: string; participant_id: string }
  | { type: "participant_left"; room_id: string; participant_id: string }
  | { type: "room_level"; room_id: string; level: Level; previous_level: Level }
  | ParticipantEvent;

/** The watch socket's event types, in the order the spec lists them. */
export const WATCH_EVENT_TYPES = [
  "room",
  "participant_joined",
  "participant_left",
  "deepfake_alert",
  "check_started",
  "check_completed",
  "room_level",
] as const;
