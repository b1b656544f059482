/**
 * The `audio` hint (docs/DESIGN.md §5): after a chunk went upstream the service tells the client that
 * sent it that its speech is not wanted for the audio interval, and that it is wanted again once
 * the pause is over. Through SocketMessages with the real audio path: what the client socket hears,
 * and how many PCM chunks go upstream.
 */
import { describe, expect, it } from "vitest";
import { deepfake_edge } from "../../src/gen/ingest.js";
import { parseConfig } from "../../src/config/config";
import { AudioHint } from "../../src/media/audio/audio-hint";
import { readyEvent } from "../../src/session/connections";
import type { SocketMessages } from "../../src/session/socket-messages";
import { type FakeSocket, messagePath } from "./socket-messages-fakes";

const v1 = deepfake_edge.v1;
const START_MS = 1_000_000;

const encode = (message: deepfake_edge.v1.ClientMessage.$Properties) => v1.ClientMessage.encode(message).finish().slice().buffer;
const hello = encode({ hello: { client: "test", vad: true, honorsRate: true } });
const speaking = (value: boolean) => encode({ speaking: { speaking: value } });
/** 100 ms of a 48 kHz tone (speech as far as the client's VAD says). */
const audio100 = (() => {
  const pcm = new Int16Array(4_800);
  for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * 220 * i) / 48_000));
  return encode({ audio: { trackId: "mic", sampleRate: 48_000, channels: 1, timestampMs: 0, data: new Uint8Array(pcm.buffer) } });
})();

/** Sends `seconds` of speech in 100 ms messages from `startMs`; returns the clock after it. */
async function speak(messages: SocketMessages<FakeSocket>, ws: FakeSocket, startMs: number, seconds: number): Promise<number> {
  let t = startMs;
  for (let i = 0; i < seconds * 10; i++, t += 100) await messages.receive(ws, audio100, t);
  return t;
}

describe("the audio hint", () => {
  it("a chunk sent: that client hears wanted=false until the interval is over, then wanted=true on its next message", async () => {
    const { messages, open, chunks } = messagePath("10");
    const bot = open();
    const other = open();
    let t = START_MS;
    await messages.receive(bot, hello, t);
    await messages.receive(bot, speaking(true), t);
    expect(bot.hints()).toEqual([]); // nothing said before the first chunk: speech is wanted
    t = await speak(messages, bot, t, 3.2);
    expect(chunks).toHaveLength(1);
    // Told in the answer to the message that completed the 3 s chunk (the 30th or, with the
    // resampler's lookahead, the 31st): paused for the whole interval from then.
    const [paused] = bot.hints();
    expect(paused).toMatchObject({ type: "audio", wanted: false, resume_in_ms: 10_000 });
    const chunkAt = (paused!.until_ms as number) - 10_000;
    expect(chunkAt).toBeGreaterThanOrEqual(START_MS + 2_900);
    expect(chunkAt).toBeLessThanOrEqual(START_MS + 3_100);
    // Speech during the pause is discarded by the service, and the hint is not repeated.
    t = await speak(messages, bot, t, 5);
    expect(chunks).toHaveLength(1);
    expect(bot.hints()).toHaveLength(1);
    // The pause is over: the next message (any kind) hears wanted=true, once.
    t = chunkAt + 10_000;
    await messages.receive(bot, speaking(true), t - 1);
    expect(bot.hints()).toHaveLength(1);
    await messages.receive(bot, speaking(true), t);
    expect(bot.hints()[1]).toEqual({ type: "audio", wanted: true, until_ms: 0, resume_in_ms: 0 });
    await messages.receive(bot, speaking(true), t + 100);
    expect(bot.hints()).toHaveLength(2);
    // The participant's other socket heard nothing: the pause is the sending connection's.
    expect(other.hints()).toEqual([]);
  });

  it("a chunk flushed at the end of speech pauses the same way", async () => {
    const { messages, open, chunks } = messagePath("60");
    const bot = open();
    let t = START_MS;
    await messages.receive(bot, hello, t);
    await messages.receive(bot, speaking(true), t);
    t = await speak(messages, bot, t, 1.5);
    expect(chunks).toHaveLength(0);
    await messages.receive(bot, speaking(false), t);
    expect(chunks).toHaveLength(1);
    expect(bot.hints()).toEqual([{ type: "audio", wanted: false, until_ms: t + 60_000, resume_in_ms: 60_000 }]);
  });

  it("with no interval (AUDIO_INTERVAL_S=0) speech is always wanted and no hint is ever sent", async () => {
    const { messages, open, chunks } = messagePath("0");
    const bot = open();
    let t = START_MS;
    await messages.receive(bot, hello, t);
    await messages.receive(bot, speaking(true), t);
    t = await speak(messages, bot, t, 9.5);
    expect(chunks).toHaveLength(3);
    expect(bot.hints()).toEqual([]);
  });
});

describe("AudioHint (pure)", () => {
  it("reports each change once, and a second chunk during the pause moves the deadline", () => {
    const hint = new AudioHint(1_000);
    expect(hint.poll(0)).toBeNull();
    hint.chunkSent(100);
    expect(hint.wanted(500)).toBe(false);
    expect(hint.poll(500)).toEqual({ type: "audio", wanted: false, until_ms: 1_100, resume_in_ms: 600 });
    expect(hint.poll(600)).toBeNull();
    hint.chunkSent(700);
    expect(hint.poll(1_200)).toBeNull(); // still paused (until 1700), already told
    expect(hint.poll(1_700)).toEqual({ type: "audio", wanted: true, until_ms: 0, resume_in_ms: 0 });
  });
});

describe("the ready event", () => {
  it("announces the deployment's JPEG quality and audio interval (a bot encodes and paces itself by them)", () => {
    const config = parseConfig({ DEV_MODE: "true", VIDEO_JPEG_QUALITY: "60", AUDIO_INTERVAL_S: "30" });
    expect(readyEvent("p", "clear", config, {})).toMatchObject({ jpeg_quality: 60, audio_interval_s: 30, video_fps: 0.2 });
    expect(readyEvent("p", "clear", parseConfig({ DEV_MODE: "true" }), {})).toMatchObject({ jpeg_quality: 75, audio_interval_s: 60 });
  });
});
