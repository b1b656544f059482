/**
 * The load generator of the live benchmarks: many participant sockets each sending audio frames every
 * `audioMs` and a video frame every `videoMs`, on a drift-free schedule (a frame that is due is sent
 * late rather than skipped, and counted as late). Participants are spread evenly over the period, so
 * the service sees a steady stream instead of bursts. Messages are pre-serialized; the generator
 * only schedules and sends.
 */
import type { ParticipantClient } from "../../test/e2e/harness/client.js";

export interface Feed {
  participantId: string;
  client: ParticipantClient;
  video: Uint8Array | null;
  audio: readonly Uint8Array[];
}

export interface FeedStats {
  video: number;
  audio: number;
  bytes: number;
}

export interface LoadStats {
  perFeed: Map<string, FeedStats>;
  /** Sends more than one period late. */
  late: number;
  /** Ticks skipped because the socket was not open. */
  notOpen: number;
  messages: number;
  bytes: number;
  seconds: number;
}

/**
 * `audioStartSpreadMs`: participant i starts its audio (i / n) of this later, so that, as in a real
 * call, they do not all start speaking, and complete their 3 s chunks, in the same instant.
 */
export function startLoad(feeds: readonly Feed[], options: { audioMs: number; videoMs: number; tickMs?: number; audioStartSpreadMs?: number }): { stop(): LoadStats } {
  const t0 = performance.now();
  const n = feeds.length;
  const state = feeds.map((feed, i) => ({
    feed,
    nextAudio: t0 + (i / n) * Math.max(options.audioMs, options.audioStartSpreadMs ?? 0),
    nextVideo: t0 + (i / n) * options.videoMs,
    audioIndex: 0,
    stats: { video: 0, audio: 0, bytes: 0 } as FeedStats,
  }));
  let late = 0;
  let notOpen = 0;
  const send = (s: (typeof state)[number], bytes: Uint8Array, kind: "audio" | "video"): void => {
    if (!s.feed.client.isOpen) {
      notOpen++;
      return;
    }
    s.feed.client.sendRaw(bytes);
    s.stats[kind]++;
    s.stats.bytes += bytes.byteLength;
  };
  const tick = (): void => {
    const now = performance.now();
    for (const s of state) {
      if (s.feed.audio.length > 0) {
        while (s.nextAudio <= now) {
          if (now - s.nextAudio > options.audioMs) late++;
          send(s, s.feed.audio[s.audioIndex++ % s.feed.audio.length]!, "audio");
          s.nextAudio += options.audioMs;
        }
      }
      if (s.feed.video !== null) {
        while (s.nextVideo <= now) {
          if (now - s.nextVideo > options.videoMs) late++;
          send(s, s.feed.video, "video");
          s.nextVideo += options.videoMs;
        }
      }
    }
  };
  const timer = setInterval(tick, options.tickMs ?? 2);
  tick();
  return {
    stop(): LoadStats {
      clearInterval(timer);
      const perFeed = new Map(state.map((s) => [s.feed.participantId, s.stats]));
      let messages = 0;
      let bytes = 0;
      for (const s of state) {
        messages += s.stats.audio + s.stats.video;
        bytes += s.stats.bytes;
      }
      return { perFeed, late, notOpen, messages, bytes, seconds: (performance.now() - t0) / 1000 };
    },
  };
}
