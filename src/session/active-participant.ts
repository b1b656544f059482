/**
 * Everything an object holds once it knows its participant (and drops on a purge): the detection
 * state and the media intake, built from the configuration and the persisted row. Pure.
 */
import { MAX_VIDEO_TRACKS, SAMPLER_TOLERANCE_RATIO, TRACK_TTL_MS, type Config } from "../config/config.js";
import { DetectionState, type Level } from "../detection/state-machine.js";
import type { JpegEncoder } from "../media/video-ingest.js";
import { MediaIntake, type IntakeOutputs } from "./media-intake.js";

export interface ActiveParticipant {
  participantId: string;
  sinceMs: number;
  detection: DetectionState;
  intake: MediaIntake;
}

/** The deployment's sampling rate at a level: burst in SUSPICIOUS, normal in CLEAR and ALERT. */
export function fpsForLevel(config: Config, level: Level): number {
  return level === "suspicious" ? config.video.burstFps : config.video.normalFps;
}

export function activateParticipant(
  config: Config,
  row: { participantId: string; level: Level; sinceMs: number },
  encode: JpegEncoder,
  outputs: IntakeOutputs,
): ActiveParticipant {
  const video = config.video;
  return {
    participantId: row.participantId,
    sinceMs: row.sinceMs,
    detection: new DetectionState({ initialLevel: row.level, trackTtlMs: TRACK_TTL_MS }),
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
      },
      outputs,
    }),
  };
}
