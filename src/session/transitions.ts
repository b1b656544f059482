/**
 * Upstream results -> detection state -> transitions (DESIGN §4, §7): decodes each ResultEvent,
 * applies it to the participant's state and, on a change of level, builds the one event that is
 * committed (state, history and outbox in one transaction), pushed to the sockets, announced as a
 * rate change and handed to webhook delivery. Pure: storage and sockets are injected.
 */
import { decodeResultEvent } from "../protocol/dataspike.js";
import { newEventId, type DeepfakeAlert, type ServerEvent } from "../protocol/events.js";
import type { Level } from "../protocol/levels.js";
import { errorMessage, type log as Log } from "../shared/log.js";
import type { ActiveParticipant } from "./active-participant.js";
import type { CounterName } from "./counters.js";

export interface TransitionOutputs {
  /** Writes the transition durably (one transaction); throws when storage fails. */
  commit(alert: DeepfakeAlert, nowMs: number): void;
  broadcast(event: ServerEvent): void;
  /** The participant's level moved: sampling rates follow, and each socket hears its own. */
  levelChanged(previous: Level, level: Level, nowMs: number): void;
  /** Durable rows were added: deliver them now (the alarm retries whatever fails). */
  deliverWebhooks(): void;
  count(name: CounterName, by?: number): void;
  log: typeof Log;
}

export class Transitions {
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
        out.log("warn", "skipped an undecodable upstream message", { participant: live.participantId, bytes: data.byteLength, reason: errorMessage(err) });
        return;
      }
      if (result.participantId && result.participantId !== live.participantId) {
        // One upstream connection per participant: a result for someone else is never applied here.
        out.count("results_misrouted");
        out.log("warn", "skipped a result for another participant", { participant: live.participantId });
        return;
      }
      const trackId = result.trackId || "unknown";
      const outcome = live.detection.applyResult(result.kind, trackId, result.message, nowMs);
      switch (outcome.kind) {
        case "transition":
          out.count("results");
          return this.#transition(live, outcome.transition.previous, outcome.transition.level, trackId, result.message, nowMs);
        case "unchanged":
          return out.count("results");
        case "error":
          out.count("upstream_errors");
          out.log("warn", "upstream reported an error", { participant: live.participantId, track: trackId, message: result.message.slice(0, 500) });
          return out.broadcast({ type: "upstream_error", track_id: trackId, message: result.message });
        case "unknown":
          return out.count("results_unknown");
      }
    } catch (err) {
      out.log("error", "upstream result failed", { class: "ParticipantSession", participant: live.participantId, reason: errorMessage(err) });
    }
  }

  /** State, history and webhook outbox change in one transaction; only then do events go out. */
  #transition(live: ActiveParticipant, previous: Level, level: Level, trackId: string, message: string, nowMs: number): void {
    const { out } = this;
    const alert: DeepfakeAlert = {
      type: "deepfake_alert",
      id: newEventId(nowMs),
      level,
      previous_level: previous,
      participant_id: live.participantId,
      track_id: trackId,
      message,
      timestamp_ms: nowMs,
    };
    out.commit(alert, nowMs);
    live.sinceMs = nowMs;
    out.count("events");
    out.log("info", "level changed", { participant: alert.participant_id, event: alert.id, previous_level: previous, new_level: level, track: trackId });
    out.broadcast(alert);
    out.levelChanged(previous, level, nowMs);
    out.deliverWebhooks();
  }
}
