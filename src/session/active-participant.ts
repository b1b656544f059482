/**
 * Everything an object holds once it knows its participant (and drops on a purge): the detection
 * state and the media intake, built from the configuration and the persisted row. Pure.
 */
import type { Config } from "../config/config.js";
import {
  MAX_VIDEO_TRACKS,
  SAMPLER_TOLERANCE_RATIO,
  TRACK_ACTIVITY_PERSIST_MS,
  VIDEO_BUSY_AFTER_MS,
} from "../config/limits.js";
import { DetectionState, type TrackState } from "../detection/state-machine.js";
import type { Level } from "../protocol/levels.js";
import type { JpegEncoder } from "../media/video-ingest.js";
import { MediaIntake, type IntakeOutputs } from "./media-intake.js";

export interface ActiveParticipant {
  participantId: string;
  /** The participant's room (docs/DESIGN.md §12), or null. */
  roomId: string | null;
  sinceMs: number;
  detection: DetectionState;
  intake: MediaIntake;
  /** An on-demand check runs (docs/DESIGN.md §13): video is sampled at the burst rate whatever the level. */
  checking: boolean;
}

/** The deployment's sampling rate at a level: burst in SUSPICIOUS, normal in CLEAR and ALERT. */
export function fpsForLevel(config: Pick<Config, "video">, level: Level): number {
  return level === "suspicious" ? config.video.burstFps : config.video.normalFps;
}

/** The level whose sampling rate applies: SUSPICIOUS (the burst rate) while a check runs. */
export function samplingLevel(
  live: Pick<ActiveParticipant, "checking" | "detection">,
  level: Level = live.detection.level,
): Level {
  return live.checking ? "suspicious" : level;
}

/**
 * Builds the participant from its stored row and tracks. A stored track's activity may lag the real
 * one by up to TRACK_ACTIVITY_PERSIST_MS (it is written at most that often), so it is read as that
 * much later: the track never expires before its ttl, and at most that much after.
 */
export function activateParticipant(
  config: Config,
  row: { participantId: string; roomId?: string | null; level: Level; sinceMs: number },
  storedTracks: readonly TrackState[],
  nowMs: number,
  encode: JpegEncoder,
  outputs: IntakeOutputs,
): ActiveParticipant {
  const video = config.video;
  const tracks = storedTracks.map((t) => ({
    ...t,
    lastActivityMs: Math.min(nowMs, t.lastActivityMs + TRACK_ACTIVITY_PERSIST_MS),
  }));
  return {
    participantId: row.participantId,
    roomId: row.roomId ?? null,
    sinceMs: row.sinceMs,
    checking: false,
    detection: new DetectionState({ initialLevel: row.level, trackTtlMs: config.trackTtlMs, tracks }),
    intake: new MediaIntake({
      participantId: row.participantId,
      audioIntervalMs: config.audioIntervalMs,
      video: {
        fps: fpsForLevel(config, row.level),
        jpegQuality: video.jpegQuality,
        limits: { maxWidth: video.maxWidth, maxHeight: video.maxHeight, maxPixels: video.maxWidth * video.maxHeight },
        toleranceRatio: SAMPLER_TOLERANCE_RATIO,
        maxTracks: MAX_VIDEO_TRACKS,
        encode,
        // Results and transitions waiting in the event queue go before a frame's encode; if they kept
        // the isolate longer than VIDEO_BUSY_AFTER_MS it is overloaded, and the frame is not encoded.
        beforeEncode: () => {
          const start = Date.now();
          return new Promise<boolean>((resolve) =>
            setTimeout(() => resolve(Date.now() - start <= VIDEO_BUSY_AFTER_MS), 0),
          );
        },
      },
      outputs,
    }),
  };
}
