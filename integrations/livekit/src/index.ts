/**
 * @deepfake-edge/livekit: watch LiveKit rooms for deepfakes with deepfake-edge (docs/DESIGN.md §14).
 *
 *   import { monitorRoom } from "@deepfake-edge/livekit";
 *   const monitor = monitorRoom("my-room", { livekit: { url, apiKey, apiSecret }, edge: { url: edgeUrl } });
 *   ...
 *   await monitor.stop();
 */
export {
  mediaKindOf,
  monitorRoom,
  type MonitorEvent,
  type MonitorOptions,
  type MonitoredParticipant,
  type RoomMonitor,
} from "./room-monitor.js";
export { monitorAllRooms, type AllRoomsMonitor, type AllRoomsOptions } from "./all-rooms.js";
export { ALERT_TOPIC, liveKitAlert, type LiveKitAlert } from "./alert-message.js";
export { participantIdFor, roomIdFor } from "./ids.js";
export type { EdgeService, LiveKitServer, OnAlertAction, SpeakingSource } from "./config.js";
