/**
 * The `deepfake-edge-livekit` command: `--room NAME` or `--all-rooms` (see config.ts for the rest).
 * One line per event on stdout (transitions, participants joining and leaving, actions); problems on
 * stderr. SIGINT or SIGTERM leaves the service and the LiveKit rooms cleanly, then exits 0.
 */
import { dispose } from "@livekit/rtc-node";
import { monitorAllRooms } from "./all-rooms.js";
import { parseCommand, USAGE } from "./config.js";
import { monitorRoom, type MonitorEvent } from "./room-monitor.js";

function describe(event: MonitorEvent): string {
  switch (event.type) {
    case "connected":
      return `monitoring room ${event.room}`;
    case "disconnected": {
      const retry = event.retryInMs === null ? "" : `, rejoining in ${event.retryInMs} ms`;
      return `left room ${event.room} (${event.reason})${retry}`;
    }
    case "participant_joined":
      return `participant ${event.identity} joined as ${event.participantId}`;
    case "participant_left":
      return `participant ${event.identity} left (${event.participantId})`;
    case "alert": {
      const a = event.alert;
      return `${a.level.toUpperCase()} ${a.participant_id} track ${a.track_id} in ${event.room} (${a.reason})`;
    }
    case "action":
      return `--on-alert ${event.action}: ${event.result}`;
    case "problem":
      return `problem in ${event.room}: ${event.message}`;
  }
}

const parsed = parseCommand(process.argv.slice(2), process.env);
if (!parsed.ok) {
  if (parsed.help) {
    console.log(USAGE);
    process.exit(0);
  }
  console.error(`deepfake-edge-livekit: ${parsed.error}\n\n${USAGE}`);
  process.exit(2);
}
const { config } = parsed;
const log = (event: MonitorEvent): void => {
  const line = `[deepfake-edge-livekit] ${describe(event)}`;
  if (event.type === "problem") console.error(line);
  else console.log(line);
};
const options = {
  livekit: config.livekit,
  edge: config.edge,
  onAlert: config.onAlert,
  speaking: config.speaking,
  ...(config.identity ? { identity: config.identity } : {}),
  onEvent: log,
};
const stoppers = config.allRooms ? [monitorAllRooms(options)] : config.rooms.map((room) => monitorRoom(room, options));
console.log(
  `[deepfake-edge-livekit] ${config.allRooms ? "all rooms" : config.rooms.join(", ")} of ${config.livekit.url} -> ` +
    `${config.edge.url} (on alert: ${config.onAlert}, speaking: ${config.speaking})`,
);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`[deepfake-edge-livekit] ${signal}: leaving`);
  await Promise.all(stoppers.map((s) => s.stop()));
  await dispose();
  console.log("[deepfake-edge-livekit] stopped");
  process.exit(0);
}
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));
