/**
 * What the operations-view browser test drives: a backend with rooms, participants that join them,
 * results steered per participant, and the watch sockets. OPS_BACKEND=fake uses the §12-shaped
 * stand-in of fake-rooms.ts.
 */
import { startFakeRooms } from "./fake-rooms.js";

export type Level = "clear" | "suspicious" | "alert";

export interface OpsBackend {
  url: string;
  adminKey: string;
  /** A participant connects into a room. */
  join(roomId: string, participantId: string): Promise<void>;
  /** The participant's next result is `level`; resolves with the time the result was produced. */
  steer(roomId: string, participantId: string, level: Level): Promise<number>;
  /** How many checks the participant has been asked for. */
  checksStarted(participantId: string): Promise<number>;
  /** Drops every watch socket from the server side. */
  dropWatchers(): Promise<void>;
  stop(): Promise<void>;
}

const ADMIN_KEY = "ops-test-admin-key-0123456789";

export async function startOpsBackend(): Promise<OpsBackend> {
  const fake = await startFakeRooms(ADMIN_KEY);
  return {
    url: fake.url,
    adminKey: ADMIN_KEY,
    async join(roomId, participantId) {
      fake.join(roomId, participantId);
    },
    async steer(roomId, participantId, level) {
      const at = Date.now();
      fake.transition(roomId, participantId, level);
      return at;
    },
    async checksStarted(participantId) {
      return fake.checks.filter((p) => p === participantId).length;
    },
    async dropWatchers() {
      fake.dropWatchers();
    },
    stop: () => fake.stop(),
  };
}
