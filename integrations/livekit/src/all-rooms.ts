/**
 * `--all-rooms`: every room the LiveKit server reports with participants gets a monitor, checked
 * every ROOM_POLL_MS. A monitor whose room is gone from the list, or that has had no one to monitor
 * for ROOM_IDLE_LEAVE_MS, is stopped, so the hidden bridge never keeps an empty room open; the room
 * is joined again when it is listed with participants.
 */
import type { MonitorOptions, RoomMonitor } from "./room-monitor.js";
import { monitorRoom } from "./room-monitor.js";
import { occupiedRooms, roomService } from "./livekit-api.js";

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

  const poll = async (): Promise<void> => {
    let listed: string[];
    try {
      listed = await occupiedRooms(service);
      listFailing = false;
    } catch (err) {
      const message = `listing rooms failed: ${(err as Error).message}`;
      if (!listFailing) options.onEvent?.({ type: "problem", room: "*", message });
      listFailing = true;
      return;
    }
    if (stopped) return;
    const wanted = new Set(listed);
    for (const [name, monitor] of monitors) {
      if (!wanted.has(name) || (monitor.isConnected && monitor.idleMs() > idleLeaveMs)) {
        monitors.delete(name);
        await monitor.stop();
      }
    }
    for (const name of listed) if (!monitors.has(name) && !stopped) monitors.set(name, monitorRoom(name, options));
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
