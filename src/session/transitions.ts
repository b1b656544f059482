/**
 * Upstream results and tracks that stop counting -> detection state -> transitions (docs/DESIGN.md §4.3, §7, §16.4).
 *
 * Memory follows storage: every change is computed on a copy of the participant's state, committed
 * (level, history row, outbox rows and track rows in one transaction), and only then adopted, pushed
 * to the sockets, announced as a rate change and handed to webhook delivery. If the commit throws,
 * memory is unchanged, the error is logged and counted, and the same input applied again still
 * produces the transition. Pure: storage and sockets are injected.
 */
import { TRACK_ACTIVITY_PERSIST_MS, UPSTREAM_MESSAGE_MAX_BYTES } from "../config/limits.js";
import type { DetectionState, Transition, TrackState } from "../detection/state-machine.js";
import { decodeResultEvent } from "../protocol/dataspike.js";
import { newEventId, type DeepfakeAlert, type ServerEvent } from "../protocol/events.js";
import type { Level } from "../protocol/levels.js";
import { errorMessage, type log as Log } from "../shared/log.js";
import { capUtf8 } from "../shared/text.js";
import type { ActiveParticipant } from "./active-participant.js";
import type { Capability } from "./capability.js";
import type { CounterName } from "./counters.js";
import type { TrackChanges } from "./store.js";

export interface TransitionOutputs {
  /**
   * Writes a change durably, in one transaction: the transition (if any) and the track rows. Throws
   * when storage fails.
   */
  commit(alert: DeepfakeAlert | null, tracks: TrackChanges, nowMs: number): void;
  /** Moves a stored track's last activity forward (outside any transition). */
  persistActivity(trackId: string, lastActivityMs: number): void;
  /** True when the built-in simulator answers: every event says so. */
  simulated: boolean;
  broadcast(event: ServerEvent): void;
  /** The participant's level moved: sampling rates follow, and each socket hears its own. */
  levelChanged(previous: Level, level: Level, nowMs: number): void;
  /** Durable rows were added: deliver them now (the alarm retries whatever fails). */
  deliverWebhooks(): void;
  /** A track deadline may have moved: re-arm the alarm. */
  rearm(): void;
  /** A level result of `trackId` was applied (after its transition, if any): an on-demand check may be answered. */
  resultApplied?(trackId: string, level: Level, nowMs: number): void;
  count(name: CounterName, by?: number): void;
  log: typeof Log;
}

export class Transitions {
  /** When each track's activity was last written, so it is written at most every TRACK_ACTIVITY_PERSIST_MS. */
  readonly #persistedActivity = new Map<string, number>();

  constructor(private readonly out: TransitionOutputs) {}

  /** One binary message from the upstream. Never throws: every failure is counted and logged. */
  onUpstreamMessage(live: ActiveParticipant, data: ArrayBuffer, nowMs: number): void {
    const { out } = this;
    try {
      let result;
      try {
        result = decodeResultEvent(new Uint8Array(data));
      } catch (err) {
        out.count("upstream_undecodable");
        out.log("warn", "skipped an undecodable upstream message", {
          participant: live.participantId,
          bytes: data.byteLength,
          reason: errorMessage(err),
        });
        return;
      }
      if (result.participantId && result.participantId !== live.participantId) {
        // One upstream connection per participant: a result for someone else is never applied here.
        out.count("results_misrouted");
        out.log("warn", "skipped a result for another participant", { participant: live.participantId });
        return;
      }
      const trackId = capUtf8(result.trackId || "unknown", 128);
      const message = capUtf8(result.message, UPSTREAM_MESSAGE_MAX_BYTES);
      if (result.kind === "error") {
        out.count("upstream_errors");
        out.log("warn", "upstream reported an error", {
          participant: live.participantId,
          track: trackId,
          message: message.slice(0, 500),
        });
        return out.broadcast({ type: "upstream_error", track_id: trackId, message });
      }
      if (result.kind === "unknown") return out.count("results_unknown");
      this.expireTracks(live, nowMs); // a track due to stop counting does so first, with its own reason
      out.count("results");
      const kind = result.kind;
      this.#change(live, nowMs, (next) => {
        const outcome = next.applyResult(kind, trackId, message, nowMs);
        return outcome.kind === "transition" ? outcome.transition : null;
      });
      out.resultApplied?.(trackId, kind, nowMs);
    } catch (err) {
      out.log("error", "upstream result failed", {
        class: "ParticipantSession",
        participant: live.participantId,
        reason: errorMessage(err),
      });
    }
  }

  /** The tracks' last feeding socket left: they stop counting now. */
  closeTracks(live: ActiveParticipant, trackIds: readonly string[], nowMs: number): void {
    this.expireTracks(live, nowMs);
    for (const trackId of trackIds) this.#change(live, nowMs, (next) => next.closeTrack(trackId, nowMs));
  }

  /** Tracks silent for the ttl stop counting (from the alarm, or before anything else touches them). */
  expireTracks(live: ActiveParticipant, nowMs: number): void {
    const due = live.detection.nextExpiryMs();
    if (due === null || due > nowMs) return;
    this.#change(live, nowMs, (next) => next.expire(nowMs).transition);
  }

  /** A FrameRequest for the track went upstream: it keeps counting; its stored activity follows, throttled. */
  trackSent(live: ActiveParticipant, trackId: string, nowMs: number): void {
    this.expireTracks(live, nowMs);
    live.detection.touchTrack(trackId, nowMs);
    const stored = live.detection.levelTracks().some((t) => t.trackId === trackId);
    if (!stored || nowMs - (this.#persistedActivity.get(trackId) ?? -Infinity) < TRACK_ACTIVITY_PERSIST_MS) return;
    try {
      this.out.persistActivity(trackId, nowMs);
      this.#persistedActivity.set(trackId, nowMs);
    } catch (err) {
      this.out.log("error", "saving track activity failed", {
        participant: live.participantId,
        track: trackId,
        reason: errorMessage(err),
      });
    }
  }

  /** The capability of the object that makes tracks stop counting on time, and forgets at a purge. */
  capability(live: () => ActiveParticipant | null): Capability {
    return {
      name: "tracks",
      nextDeadline: () => live()?.detection.nextExpiryMs() ?? null,
      onDeadline: (nowMs) => {
        const participant = live();
        if (participant) this.expireTracks(participant, nowMs);
      },
      onPurge: () => this.#persistedActivity.clear(),
    };
  }

  /** Computes a change on a copy, commits it, and only then adopts it and tells everyone. */
  #change(live: ActiveParticipant, nowMs: number, compute: (next: DetectionState) => Transition | null): void {
    const { out } = this;
    const next = live.detection.clone();
    const transition = compute(next);
    const tracks = trackChanges(live.detection.levelTracks(), next.levelTracks());
    const alert = transition ? this.#alert(live, transition, nowMs) : null;
    if (alert || tracks.upsert.length > 0 || tracks.remove.length > 0) {
      try {
        out.commit(alert, tracks, nowMs);
      } catch (err) {
        out.count("storage_errors");
        out.log("error", "storing a detection change failed; state unchanged", {
          participant: live.participantId,
          event: alert?.id,
          reason: errorMessage(err),
        });
        return;
      }
      for (const t of tracks.upsert) this.#persistedActivity.set(t.trackId, t.lastActivityMs);
      for (const trackId of tracks.remove) this.#persistedActivity.delete(trackId);
    }
    live.detection = next;
    if (tracks.upsert.length > 0 || tracks.remove.length > 0) out.rearm();
    if (!alert || !transition) return;
    live.sinceMs = nowMs;
    out.count("events");
    out.log("info", "level changed", {
      participant: alert.participant_id,
      event: alert.id,
      previous_level: alert.previous_level,
      new_level: alert.level,
      track: alert.track_id,
      reason: alert.reason,
    });
    out.broadcast(alert);
    out.levelChanged(transition.previous, transition.level, nowMs);
    out.deliverWebhooks();
  }

  #alert(live: ActiveParticipant, t: Transition, nowMs: number): DeepfakeAlert {
    return {
      type: "deepfake_alert",
      id: newEventId(nowMs),
      level: t.level,
      previous_level: t.previous,
      participant_id: live.participantId,
      room_id: live.roomId,
      track_id: t.trackId,
      message: t.message,
      timestamp_ms: nowMs,
      reason: t.reason,
      simulated: this.out.simulated,
    };
  }
}

/** Rows to write: tracks whose level is new or changed, and tracks that no longer have one. */
export function trackChanges(before: readonly TrackState[], after: readonly TrackState[]): TrackChanges {
  const old = new Map(before.map((t) => [t.trackId, t.level]));
  const now = new Set(after.map((t) => t.trackId));
  return {
    upsert: after.filter((t) => old.get(t.trackId) !== t.level),
    remove: before.filter((t) => !now.has(t.trackId)).map((t) => t.trackId),
  };
}
