/**
 * Builds the checks capability (./checks.ts) from the participant object's parts, so the object
 * only adds it to its list: its ledger in the object's SQLite, its completion committed with the
 * webhook outbox rows in one transaction, and its window's sampling (burst video, the check's speech
 * chunk, `rate` and `audio` events to the clients) applied to the participant's intake.
 */
import type { Config } from "../config/config.js";
import { ClientInputError } from "../protocol/client-messages.js";
import type { CheckStarted } from "../protocol/events.js";
import type { Level } from "../protocol/levels.js";
import type { log as Log } from "../shared/log.js";
import type { SqlLike } from "../shared/sql.js";
import { fpsForLevel, samplingLevel, type ActiveParticipant } from "../session/active-participant.js";
import { Checks, type CheckEvent } from "./checks.js";
import { CheckStore } from "./store.js";

export interface ChecksWiring {
  config: Pick<Config, "simulated" | "video" | "webhooks">;
  sql: SqlLike;
  transaction(write: () => void): void;
  outbox: { enqueueBody(eventId: string, body: string, urls: readonly string[], nowMs: number): void };
  /** The participant, once the object knows it and its storage exists. */
  live(): ActiveParticipant | null;
  stored(): boolean;
  broadcast(event: CheckEvent): void;
  /** Each client hears its own new rate (SocketMessages.announceRates). */
  announceRates(previous: Level, level: Level): void;
  /** Each client whose `audio` hint changed hears it (SocketMessages.announceAudioHints). */
  announceAudioHints(nowMs: number): void;
  deliverWebhooks(): void;
  arm(): void;
  /** The participant's room (DESIGN §12), or null. */
  roomId(): string | null;
  /** Room reporting (DESIGN §12): check events go to the room's watchers too. */
  reportToRoom(event: CheckEvent): void;
  count(name: "checks_started" | "checks_completed" | "storage_errors"): void;
  log: typeof Log;
}

export function participantChecks(w: ChecksWiring): Checks {
  const store = new CheckStore(w.sql);
  return new Checks(() => (w.stored() ? store : null), {
    participantId: () => w.live()?.participantId ?? null,
    roomId: () => w.roomId(),
    level: () => w.live()?.detection.level ?? "clear",
    countingTracks: (nowMs) =>
      w
        .live()
        ?.detection.tracks(nowMs)
        .filter((t) => t.level !== null)
        .map((t) => t.trackId) ?? [],
    simulated: w.config.simulated,
    transaction: (write) => w.transaction(write),
    enqueueWebhooks: (eventId, body, nowMs) => w.outbox.enqueueBody(eventId, body, w.config.webhooks.urls, nowMs),
    broadcast: (event) => w.broadcast(event),
    samplingChanged: (checking, nowMs) => {
      const live = w.live();
      if (!live) return;
      const before = samplingLevel(live, live.detection.level);
      live.checking = checking;
      const after = samplingLevel(live, live.detection.level);
      const fps = fpsForLevel(w.config, after);
      if (fps !== live.intake.videoFps) live.intake.setVideoFps(fps, nowMs);
      live.intake.allowCheckChunk(checking);
      w.announceRates(before, after);
      w.announceAudioHints(nowMs);
    },
    deliverWebhooks: () => w.deliverWebhooks(),
    rearm: () => w.arm(),
    reportToRoom: (event) => w.reportToRoom(event),
    count: (name) => w.count(name),
    log: w.log,
  });
}

/**
 * A client's `Check` message: starts or joins the participant's check. Returns the running check's
 * `check_started` for the asking socket when it joined (a new check is broadcast to every socket);
 * a refusal becomes that socket's `error` event (`bad_check`, `check_rate_limited`).
 */
export function checkFromSocket(checks: Checks, durationS: number, nowMs: number): CheckStarted | null {
  const answer = checks.start(durationS, nowMs);
  if (!answer.ok) {
    throw new ClientInputError(answer.status === 429 ? "check_rate_limited" : "bad_check", answer.message);
  }
  return answer.value.joined ? checks.running(nowMs) : null;
}
