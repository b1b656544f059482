/**
 * A transition of this service, as the data message the bridge publishes into the LiveKit room
 * (docs/DESIGN.md §14): the JSON the Dataspike LiveKit plugin publishes on topic `deepfake_alert`
 * (`type`, `level`, `participant_id` = the LiveKit identity, `track_id` = the LiveKit track sid,
 * `message`, `timestamp_ms`), plus `reason`, `simulated` and `room_id`. An app that already listens
 * for the plugin's messages reads these unchanged.
 */
import type { DeepfakeAlert, Level } from "@deepfake-edge/client";

/** The data topic of the Dataspike LiveKit plugin. */
export const ALERT_TOPIC = "deepfake_alert";

export interface LiveKitAlert {
  type: "deepfake_alert";
  level: Level;
  /** The LiveKit participant identity (not the service's `<room>:<identity>` id). */
  participant_id: string;
  /** The LiveKit track sid of the track whose result (or expiry) moved the level. */
  track_id: string;
  message: string;
  timestamp_ms: number;
  reason: DeepfakeAlert["reason"];
  simulated: boolean;
  /** The service's room id of the LiveKit room (the event's own, or the id the bridge joined it with). */
  room_id: string;
}

/** What the bridge knows about the participant behind a service participant id. */
export interface AlertMapping {
  identity: string;
  roomId: string;
  /** The LiveKit track sid for a service track id (the bridge uses the sid as the track id). */
  trackSid(trackId: string): string;
}

export function liveKitAlert(alert: DeepfakeAlert, mapping: AlertMapping): LiveKitAlert {
  return {
    type: "deepfake_alert",
    level: alert.level,
    participant_id: mapping.identity,
    track_id: mapping.trackSid(alert.track_id),
    message: alert.message,
    timestamp_ms: alert.timestamp_ms,
    reason: alert.reason,
    simulated: alert.simulated,
    room_id: alert.room_id ?? mapping.roomId,
  };
}

export function encodeAlert(alert: LiveKitAlert): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(alert));
}
