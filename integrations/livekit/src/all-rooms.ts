/**
 * `--all-rooms`: every room the LiveKit server reports with someone publishing gets a monitor,
 * checked every ROOM_POLL_MS. Publishers, not participants: hidden bridges (this one and any other)
 * count as participants but never publish, so they never draw each other into a room. A monitor whose
 * room has no publisher any more, or that has had no one to monitor for ROOM_IDLE_LEAVE_MS (say, only
 * an agent publishes), is stopped, so the bridge never keeps an empty room open; a room left idle is
 * joined again only once its number of publishers changes.
 */
import type { MonitorOptions, RoomMonitor } from "./room-monitor.js";
import { monitorRoom } from "./room-monitor.js";
import { publishingRooms, roomService } from "./livekit-api.js";

export const ROOM_POLL_MS = 5_000;
export const ROOM_IDLE_LEAVE_MS = 30_000;

export interface AllRoomsOptions extends MonitorOptions {
  pollMs?: number;
  idleLeaveMs?: number;
}

export interface AllRoomsMonitor {
  rooms(): RoomMonitor[];
  stop(): Promise<void>;
}

export function monitorAllRooms(options: AllRoomsOptions): AllRoomsMonitor {
  const service = roomService(options.livekit);
  const monitors = new Map<string, RoomMonitor>();
  const pollMs = options.pollMs ?? ROOM_POLL_MS;
  const idleLeaveMs = options.idleLeaveMs ?? ROOM_IDLE_LEAVE_MS;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let listFailing = false;
  /** Rooms left for having no one to monitor, with their number of publishers then. */
  const leftIdle = new Map<string, number>();

  const poll = async (): Promise<void> => {
    let listed: Map<string, number>;
    try {
      listed = await publishingRooms(service);
      listFailing = false;
    } catch (err) {
      const message = `listing rooms failed: ${(err as Error).message}`;
      if (!listFailing) options.onEvent?.({ type: "problem", room: "*", message });
      listFailing = true;
      return;
    }
    if (stopped) return;
    for (const name of leftIdle.keys()) if (listed.get(name) !== leftIdle.get(name)) leftIdle.delete(name);
    for (const [name, monitor] of monitors) {
      const idle = monitor.isConnected && monitor.idleMs() > idleLeaveMs;
      if (listed.has(name) && !idle) continue;
      if (idle && listed.has(name)) leftIdle.set(name, listed.get(name)!);
      monitors.delete(name);
      await monitor.stop();
    }
    for (const name of listed.keys()) {
      if (!monitors.has(name) && !leftIdle.has(name) && !stopped) monitors.set(name, monitorRoom(name, options));
    }
  };
  const loop = async (): Promise<void> => {
    await poll();
    if (!stopped) timer = setTimeout(() => void loop(), pollMs);
  };
  void loop();

  return {
    rooms: () => [...monitors.values()],
    async stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      const all = [...monitors.values()];
      monitors.clear();
      await Promise.all(all.map((m) => m.stop()));
    },
  };
}
