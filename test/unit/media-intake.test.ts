/**
 * The participant's media intake (docs/DESIGN.md §4, §5) with the real codec and an upstream link over a
 * fake socket: which messages become FrameRequests, which tracks they feed, and that speaking state
 * belongs to the socket that sent it.
 */
import { describe, expect, it } from "vitest";
import { MediaIntake, type Feed } from "../../src/session/media-intake";
import { decodeFrameRequest, FrameFormat } from "../../src/protocol/dataspike";
import { UpstreamLink, type Outgoing, type UpstreamSocket } from "../../src/upstream/link";
import { SendQueue } from "../../src/upstream/send-queue";
import { Backoff } from "../../src/shared/backoff";
import { DetectionState } from "../../src/detection/state-machine";
import { VideoSampler } from "../../src/shared/sampler";
import type { ClientInput } from "../../src/protocol/client-messages";
import { frames, s16le, silence, tone } from "./audio-signals";
import { FakeClock, settle } from "./client-fakes";

const LIMITS = { maxWidth: 1920, maxHeight: 1080, maxPixels: 1920 * 1080 };

function makeIntake(intervalMs = 0) {
  const sent: Array<{ trackId: string; format: number; bytes: number }> = [];
  const intake = new MediaIntake({
    participantId: "alice",
    audioIntervalMs: intervalMs,
    video: { fps: 1, jpegQuality: 75, limits: LIMITS, toleranceRatio: 0.25, maxTracks: 8, encode: async () => new Uint8Array([0xff, 0xd8, 0xff, 0xd9]) },
    outputs: {
      send: (bytes, trackId) => {
        const request = decodeFrameRequest(bytes);
        expect(request.trackId).toBe(trackId);
        sent.push({ trackId, format: request.format, bytes: request.data.byteLength });
      },
      count: () => undefined,
    },
  });
  return { intake, sent };
}

const feed = (connectionId: string, clientVad = false, videoFps = 1): Feed => ({ connectionId, clientVad, videoFps });

/** 20 ms mono 48 kHz AudioFrames of a signal. */
function audioFrames(signal: Float32Array, trackId = "microphone"): ClientInput[] {
  return frames(signal, 960).map((samples) => ({ kind: "audio", trackId, sampleRate: 48_000, channels: 1, timestampMs: 0, data: s16le(samples) }));
}

async function push(intake: MediaIntake, f: Feed, inputs: ClientInput[], startMs: number): Promise<number> {
  let nowMs = startMs;
  for (const input of inputs) {
    nowMs += 20;
    await intake.ingestClientMessage(f, input, nowMs);
  }
  return nowMs;
}

describe("track activity: a track is touched only when a FrameRequest for it is sent upstream", () => {
  it("a microphone sending only silence sends nothing, so its track is never touched and its ALERT expires", async () => {
    const clock = new FakeClock();
    const detection = new DetectionState({ initialLevel: "clear", trackTtlMs: 10_000 });
    const socket: UpstreamSocket & { sent: number } = {
      sent: 0,
      send() {
        this.sent++;
      },
      close() {},
      addEventListener() {},
    };
    const link = new UpstreamLink({
      connect: async () => socket,
      backoff: new Backoff({ initialMs: 1000, maxMs: 10_000, jitterRatio: 0 }),
      queue: new SendQueue<Outgoing>({ maxItems: 16, sizeOf: (o) => o.data.byteLength }),
      healthyAfterMs: 10_000,
      connectTimeoutMs: 10_000,
      timers: clock,
      hooks: { connected() {}, reconnecting() {}, message() {}, sent: (trackId) => detection.touchTrack(trackId, clock.now()) },
    });
    link.start();
    await settle();
    const intake = new MediaIntake({
      participantId: "alice",
      audioIntervalMs: 0,
      video: { fps: 1, jpegQuality: 75, limits: LIMITS, toleranceRatio: 0.25, maxTracks: 8, encode: async () => new Uint8Array(4) },
      outputs: { send: (bytes, trackId) => link.send(bytes, trackId), count: () => undefined },
    });
    // The microphone alerted at t = 0; then 15 s of silent frames arrive on it (built-in gate), past its 10 s ttl.
    expect(detection.applyResult("alert", "microphone", "cloned voice", 0).kind).toBe("transition");
    const quiet = audioFrames(silence(48_000, 1));
    for (let second = 0; second < 15; second++) {
      for (const frame of quiet) await intake.ingestClientMessage(feed("c1"), frame, second * 1000);
      await clock.advance(1_000);
    }
    expect(socket.sent).toBe(0);
    expect(detection.tracks(clock.now())).toEqual([]); // expired: silence did not keep it alive
  });

  it("speech does produce FrameRequests labelled with the microphone's track", async () => {
    const { intake, sent } = makeIntake();
    const f = feed("c1", true);
    await intake.ingestClientMessage(f, { kind: "speaking", speaking: true }, 0);
    const end = await push(intake, f, audioFrames(tone(440, 48_000, 4)), 0);
    await intake.ingestClientMessage(f, { kind: "speaking", speaking: false }, end);
    expect(sent).toEqual([
      { trackId: "microphone", format: FrameFormat.PCM, bytes: 96_000 },
      { trackId: "microphone", format: FrameFormat.PCM, bytes: 96_000 },
    ]);
  });

  it("video frames skipped by the sampler send nothing; sampled ones send one FrameRequest for their track", async () => {
    const { intake, sent } = makeIntake();
    const frame = (nowMs: number): ClientInput => ({ kind: "video", trackId: "cam", width: 4, height: 4, format: "RGB24", source: "camera", timestampMs: nowMs, data: new Uint8Array(48) });
    const reference = new VideoSampler(1);
    let taken = 0;
    for (let t = 0; t < 10_000; t += 100) {
      await intake.ingestClientMessage(feed("c1"), frame(t), t);
      if (reference.offer(t)) taken++;
    }
    expect(taken).toBeGreaterThanOrEqual(10);
    expect(sent).toHaveLength(taken); // 100 frames in, one FrameRequest per sampled frame only
    expect(sent.every((s) => s.trackId === "cam" && s.format === FrameFormat.JPEG)).toBe(true);
  });

  it("a connection's own lower rate applies to the frames it sends", async () => {
    const { intake, sent } = makeIntake();
    const frame = (nowMs: number): ClientInput => ({ kind: "video", trackId: "cam", width: 4, height: 4, format: "RGB24", source: "camera", timestampMs: nowMs, data: new Uint8Array(48) });
    const participantRate = new VideoSampler(1);
    const ownRate = new VideoSampler(0.5);
    let atParticipantRate = 0;
    let atOwnRate = 0;
    for (let t = 0; t < 10_000; t += 100) {
      await intake.ingestClientMessage(feed("c1", false, 0.5), frame(t), t);
      if (participantRate.offer(t)) atParticipantRate++;
      if (ownRate.offer(t)) atOwnRate++;
    }
    expect(sent).toHaveLength(atOwnRate); // 0.5 fps over 10 s, not the participant's 1 fps
    expect(atOwnRate).toBeLessThan(atParticipantRate);
  });
});

describe("speaking state belongs to its socket (docs/DESIGN.md §5)", () => {
  it("a second socket's Hello{vad:false}, Speaking and leaving never cut or flush the first socket's utterance", async () => {
    const { intake, sent } = makeIntake();
    const bot = feed("bot", true);
    const dashboard = feed("dashboard");
    await intake.ingestClientMessage(bot, { kind: "hello", client: "bot", vad: true, honorsRate: true }, 0);
    await intake.ingestClientMessage(bot, { kind: "speaking", speaking: true }, 0);
    let now = await push(intake, bot, audioFrames(tone(440, 48_000, 2)), 0);
    // A playground joins, says it has no VAD, toggles Speaking and leaves, mid-utterance.
    await intake.ingestClientMessage(dashboard, { kind: "hello", client: "playground", vad: false, honorsRate: true }, now);
    await intake.ingestClientMessage(dashboard, { kind: "speaking", speaking: true }, now);
    await intake.ingestClientMessage(dashboard, { kind: "speaking", speaking: false }, now);
    intake.endFeed("dashboard", now);
    expect(sent).toEqual([]); // nothing flushed early
    now = await push(intake, bot, audioFrames(tone(440, 48_000, 4)), now);
    await intake.ingestClientMessage(bot, { kind: "speaking", speaking: false }, now);
    // One 6 s utterance: two full chunks, not a cut 2 s chunk plus a 4 s one.
    expect(sent.map((s) => s.bytes)).toEqual([96_000, 96_000]);
  });

  it("after hibernation a socket's persisted vad flag still makes its Speaking markers decide", async () => {
    const { intake, sent } = makeIntake();
    // A rebuilt object: the first message after wake-up is audio, before any Hello or Speaking.
    const woke = feed("bot", true);
    const now = await push(intake, woke, audioFrames(tone(440, 48_000, 4)), 0);
    // Client VAD without Speaking(true): a loud tone is not gathered (the built-in gate would have).
    intake.endFeed("bot", now);
    expect(sent).toEqual([]);
  });

  it("a leaving socket's own utterance in progress is still sent", async () => {
    const { intake, sent } = makeIntake();
    const bot = feed("bot", true);
    await intake.ingestClientMessage(bot, { kind: "speaking", speaking: true }, 0);
    const now = await push(intake, bot, audioFrames(tone(440, 48_000, 1.5)), 0);
    intake.endFeed("bot", now);
    expect(sent.map((s) => s.bytes)).toEqual([96_000]);
  });
});
