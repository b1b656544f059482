/**
 * End-to-end audio (issue 3, docs/DESIGN.md §3–§5): a real `wrangler dev`, real `ws` clients streaming
 * 48 kHz stereo s16le in 20 ms frames paced by the wall clock, and a fake Dataspike API that keeps
 * the PCM it receives. Asserts what the API would see: PCM FrameRequests of exactly 96 000 bytes
 * (48 000 samples of 16 kHz mono), the 440 Hz test tone intact after downmix and resampling,
 * zero-padding of the last chunk, nothing for short utterances or silence, and the Cloudflare
 * Realtime SFU adapter routes. Measured figures are logged with a `[measure]` prefix.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import encodeJpeg, { init as initJpegEncoder } from "@jsquash/jpeg/encode.js";
import { cloudflare } from "../../src/gen/packet.js";
import { dominantFrequencyHz, rms } from "../support/audio-analysis.js";
import { connectParticipant, connectUrl, mintConnectToken, type ParticipantClient } from "./harness/client.js";
import { FakeUpstream, FrameFormat, productionVars, type ReceivedFrame } from "./harness/fake-upstream.js";
import { REPO_ROOT, startWranglerDev, type WranglerDev } from "./harness/wrangler-dev.js";

const API_KEY = "test-key";
const ADMIN_KEY = "e2e-admin-0123456789";
const TRACK = "mic-1";

/** Input: what a browser / media bot / SFU adapter sends. */
const IN_RATE_HZ = 48_000;
const IN_CHANNELS = 2;
const FRAME_MS = 20;
const FRAME_SAMPLES = (IN_RATE_HZ * FRAME_MS) / 1000; // 960 per channel
/** Upstream: fixed by the Dataspike API. */
const OUT_RATE_HZ = 16_000;
const CHUNK_SAMPLES = 48_000;
const CHUNK_BYTES = 96_000;
const TONE_HZ = 440;
const TONE_TOLERANCE_HZ = 5;
/** Half full scale (-9 dBFS RMS): clearly speech-loud for the built-in gate. */
const TONE_AMPLITUDE = 16_384;

const { Packet } = cloudflare.realtime.v1;

function measure(...parts: unknown[]): void {
  console.log("[measure]", ...parts);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ---- signal generation ----------------------------------------------------------------------

type Segment = { kind: "tone"; ms: number; amplitude?: number } | { kind: "silence"; ms: number } | { kind: "noise"; ms: number; lsb: number };

/**
 * 48 kHz interleaved stereo s16le frames of 20 ms for the segments, in order. The tone's phase runs
 * on across frames and segments (a continuous sine), the same in both channels; noise is uniform
 * in ±lsb, independent per channel.
 */
function makeFrames(segments: Segment[]): Uint8Array[] {
  const frames: Uint8Array[] = [];
  let n = 0; // absolute sample index, for the tone's phase
  for (const segment of segments) {
    const count = segment.ms / FRAME_MS;
    if (!Number.isInteger(count)) throw new Error(`segment of ${segment.ms} ms is not a whole number of ${FRAME_MS} ms frames`);
    for (let f = 0; f < count; f++) {
      const bytes = new Uint8Array(FRAME_SAMPLES * IN_CHANNELS * 2);
      const view = new DataView(bytes.buffer);
      for (let i = 0; i < FRAME_SAMPLES; i++, n++) {
        for (let c = 0; c < IN_CHANNELS; c++) {
          let v = 0;
          if (segment.kind === "tone") {
            v = Math.round((segment.amplitude ?? TONE_AMPLITUDE) * Math.sin((2 * Math.PI * TONE_HZ * n) / IN_RATE_HZ));
          } else if (segment.kind === "noise") {
            v = Math.round((Math.random() * 2 - 1) * segment.lsb);
          }
          view.setInt16((i * IN_CHANNELS + c) * 2, v, true);
        }
      }
      frames.push(bytes);
    }
  }
  return frames;
}

/**
 * Sends the frames in real time: frame i is due at start + i * 20 ms of wall clock (late ticks
 * catch up, so the count is exact and the pace does not drift). Resolves when all are sent.
 */
async function sendPaced(frames: Uint8Array[], send: (frame: Uint8Array, index: number) => void): Promise<{ sent: number; elapsedMs: number }> {
  const startMs = Date.now();
  let i = 0;
  while (i < frames.length) {
    while (i < frames.length && Date.now() >= startMs + i * FRAME_MS) {
      send(frames[i] as Uint8Array, i);
      i++;
    }
    if (i < frames.length) await sleep(Math.max(1, startMs + i * FRAME_MS - Date.now()));
  }
  return { sent: i, elapsedMs: Date.now() - startMs };
}

function sendAudio(client: ParticipantClient, frame: Uint8Array, trackId = TRACK): void {
  client.sendMessage({ audio: { trackId, sampleRate: IN_RATE_HZ, channels: IN_CHANNELS, timestampMs: Date.now(), data: frame } });
}

// ---- analysis of what reached the upstream ---------------------------------------------------

function pcmSamples(frame: ReceivedFrame): Int16Array {
  const data = frame.data;
  if (data === undefined) throw new Error("PCM frame without data (FakeUpstream keepPcm off?)");
  const samples = new Int16Array(data.byteLength / 2);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let i = 0; i < samples.length; i++) samples[i] = view.getInt16(i * 2, true);
  return samples;
}

interface ChunkFigures {
  bytes: number;
  freqHz: number;
  /** Samples before the first non-zero one. */
  leadingZeros: number;
  /** Samples after the last non-zero one (the zero padding, plus any silence the gate let through). */
  trailingZeros: number;
  rmsDbfs: number;
}

function analyse(frame: ReceivedFrame): ChunkFigures {
  const s = pcmSamples(frame);
  let first = 0;
  while (first < s.length && s[first] === 0) first++;
  let last = s.length - 1;
  while (last >= 0 && s[last] === 0) last--;
  const level = rms(s) / 32_768;
  return {
    bytes: frame.bytes,
    freqHz: dominantFrequencyHz(s, OUT_RATE_HZ),
    leadingZeros: first,
    trailingZeros: s.length - 1 - last,
    rmsDbfs: level > 0 ? 20 * Math.log10(level) : -Infinity,
  };
}

function describeChunks(figures: ChunkFigures[]): string {
  return figures
    .map(
      (f, i) =>
        `#${i + 1}: ${f.bytes} B, ${f.freqHz.toFixed(3)} Hz, ${f.rmsDbfs.toFixed(1)} dBFS, ` +
        `leading zeros ${f.leadingZeros} (${(f.leadingZeros / OUT_RATE_HZ).toFixed(3)} s), trailing zeros ${f.trailingZeros} (${(f.trailingZeros / OUT_RATE_HZ).toFixed(3)} s)`,
    )
    .join("; ");
}

function expectToneChunk(frame: ReceivedFrame, participantId: string, trackId: string): ChunkFigures {
  expect(frame.format).toBe(FrameFormat.PCM);
  expect(frame.participantId).toBe(participantId);
  expect(frame.trackId).toBe(trackId);
  expect(frame.bytes).toBe(CHUNK_BYTES);
  expect(frame.data?.byteLength).toBe(CHUNK_BYTES);
  expect(frame.timestampMs).toBeGreaterThan(0);
  expect(Math.abs(frame.timestampMs - frame.atMs)).toBeLessThan(30_000);
  const figures = analyse(frame);
  expect(Math.abs(figures.freqHz - TONE_HZ), `dominant frequency ${figures.freqHz} Hz`).toBeLessThanOrEqual(TONE_TOLERANCE_HZ);
  return figures;
}

// ---- JPEG for the SFU video route -------------------------------------------------------------

let encoderReady: Promise<void> | null = null;

async function makeJpeg(width: number, height: number, index: number): Promise<Uint8Array> {
  encoderReady ??= (async () => {
    const wasm = await WebAssembly.compile(readFileSync(join(REPO_ROOT, "node_modules/@jsquash/jpeg/codec/enc/mozjpeg_enc.wasm")));
    // encode.js accepts (module, options); its .d.ts only declares (options).
    await (initJpegEncoder as unknown as (module: WebAssembly.Module) => Promise<void>)(wasm);
  })();
  await encoderReady;
  const data = new Uint8ClampedArray(width * height * 4);
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i += 4) {
      data[i] = (x * 255) / width + index * 7;
      data[i + 1] = (y * 255) / height;
      data[i + 2] = ((x + y + index * 5) >> 1) & 0xff;
      data[i + 3] = 255;
    }
  }
  const image = { data, width, height, colorSpace: "srgb" } as ImageData;
  return new Uint8Array(await encodeJpeg(image, { quality: 75 }));
}

// ---- the service ------------------------------------------------------------------------------

let fake: FakeUpstream;
let dev: WranglerDev;
const runId = Date.now().toString(36);

const pcmFor = (participantId: string): ReceivedFrame[] => fake.frames.filter((f) => f.participantId === participantId && f.format === FrameFormat.PCM);

async function openClient(participantId: string, vad: boolean): Promise<ParticipantClient> {
  const { token } = await mintConnectToken(dev.url, ADMIN_KEY, participantId, 600);
  const client = await connectParticipant(dev.url, participantId, token);
  await client.waitFor((e) => e.type === "ready", 10_000);
  client.sendHello({ client: "e2e-audio", vad, honorsRate: false });
  return client;
}

/** GET /v1/participants/:id (admin): level, counters, upstream status, clients. */
async function snapshot(participantId: string): Promise<unknown> {
  const res = await fetch(`${dev.url}/v1/participants/${encodeURIComponent(participantId)}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  const text = await res.text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return `${res.status} ${text.slice(0, 500)}`;
  }
}

/**
 * Waits for `count` PCM chunks of the participant. On timeout the error says what did arrive, the
 * service's counters and whether the test's sockets were closed (a 1006 close with fresh counters
 * means workerd restarted, e.g. wrangler dev reloading after an edit under src/).
 */
async function waitForChunks(participantId: string, count: number, sockets: ParticipantClient[], timeoutMs = 10_000): Promise<void> {
  try {
    await fake.waitFor(() => pcmFor(participantId).length >= count, timeoutMs, `${count} PCM chunk(s) of ${participantId}`);
  } catch (err) {
    const got = fake.frames.filter((f) => f.participantId === participantId).map((f) => `${f.format === FrameFormat.PCM ? "PCM" : f.format} ${f.bytes} B`);
    const closes = sockets.map((c) => (c.closed === null ? "open" : `closed ${c.closed.code} ${c.closed.reason}`.trim()));
    throw new Error(
      `${(err as Error).message}; upstream got [${got.join(", ")}]; sockets [${closes.join(", ")}]; snapshot ${JSON.stringify(await snapshot(participantId))}`,
    );
  }
}

function sfuUrl(participantId: string, kind: "video" | "audio", token: string): string {
  return `${dev.url.replace(/^http/, "ws")}/v1/participants/${encodeURIComponent(participantId)}/sfu/${kind}?token=${encodeURIComponent(token)}`;
}

const openSockets: ParticipantClient[] = [];

beforeAll(async () => {
  fake = await FakeUpstream.start({ expectedKey: API_KEY, keepPcm: true });
  // No minimum interval between chunks: every utterance of a test is sent.
  dev = await startWranglerDev({ vars: productionVars(fake, { apiKey: API_KEY, adminKey: ADMIN_KEY }, { AUDIO_INTERVAL_S: "0" }) });
  measure(`wrangler dev healthy at ${dev.url}; fake upstream at ${fake.url}`);
});

afterAll(async () => {
  await Promise.all(openSockets.map((c) => c.close()));
  const logs = dev?.logs() ?? "";
  await dev?.stop();
  await fake?.close();
  // Kept for diagnosis (test-artifacts/ is git-ignored); the service never logs media.
  const dir = join(REPO_ROOT, "test-artifacts");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "e2e-audio-wrangler.log"), logs);
});

describe("audio with the client's Speaking markers (Hello.vad = true)", () => {
  it("a 7 s utterance of a 440 Hz tone reaches the upstream as 3 PCM chunks of exactly 96 000 bytes at 440 Hz", async () => {
    const participantId = `e2e-audio-7s-${runId}`;
    const client = await openClient(participantId, true);
    openSockets.push(client);

    // Half a second before the utterance is not speech: the service must not gather it.
    const frames = makeFrames([{ kind: "tone", ms: 7_000 }]);
    await sendPaced(makeFrames([{ kind: "tone", ms: 500 }]), (f) => sendAudio(client, f));
    client.sendMessage({ speaking: { speaking: true } });
    const { sent, elapsedMs } = await sendPaced(frames, (f) => sendAudio(client, f));
    client.sendMessage({ speaking: { speaking: false } });
    const stoppedAt = Date.now();
    // After the utterance: more tone without Speaking, which must be dropped too.
    await sendPaced(makeFrames([{ kind: "tone", ms: 500 }]), (f) => sendAudio(client, f));

    await waitForChunks(participantId, 3, [client]);
    await sleep(1_500);
    const chunks = pcmFor(participantId);
    const figures = chunks.map((c) => expectToneChunk(c, participantId, TRACK));
    measure(
      `7 s utterance: client sent ${sent} frames of ${FRAME_MS} ms (48 kHz stereo) in ${elapsedMs} ms; ` +
        `upstream got ${chunks.length} PCM chunks, last ${(chunks[chunks.length - 1]?.atMs ?? 0) - stoppedAt} ms after Speaking(false): ${describeChunks(figures)}`,
    );
    expect(sent).toBe(350);
    expect(chunks).toHaveLength(3);
    // Two full chunks of tone; the third holds the last second (16 000 samples) and 2 s of zero padding.
    for (const f of figures.slice(0, 2)) {
      expect(f.leadingZeros).toBeLessThan(10);
      expect(f.trailingZeros).toBeLessThan(10);
    }
    const last = figures[2] as ChunkFigures;
    expect(last.leadingZeros).toBeLessThan(10);
    expect(last.trailingZeros).toBeGreaterThanOrEqual(CHUNK_SAMPLES - OUT_RATE_HZ - 10);
    expect(last.trailingZeros).toBeLessThanOrEqual(CHUNK_SAMPLES - OUT_RATE_HZ + 10);
    expect(client.ofType("error")).toEqual([]);
    expect(client.closed).toBeNull();
  });

  it("a 1.5 s utterance gives one zero-padded 96 000-byte chunk", async () => {
    const participantId = `e2e-audio-1500ms-${runId}`;
    const client = await openClient(participantId, true);
    openSockets.push(client);

    client.sendMessage({ speaking: { speaking: true } });
    const { sent } = await sendPaced(makeFrames([{ kind: "tone", ms: 1_500 }]), (f) => sendAudio(client, f));
    client.sendMessage({ speaking: { speaking: false } });

    await waitForChunks(participantId, 1, [client]);
    await sleep(1_500);
    const chunks = pcmFor(participantId);
    const figures = chunks.map((c) => expectToneChunk(c, participantId, TRACK));
    const s = pcmSamples(chunks[0] as ReceivedFrame);
    const speechPart = s.subarray(0, 1.5 * OUT_RATE_HZ);
    const paddedPart = s.subarray(1.5 * OUT_RATE_HZ);
    const nonZeroInPadding = paddedPart.reduce((n, v) => n + (v !== 0 ? 1 : 0), 0);
    const speechRmsDbfs = 20 * Math.log10(rms(speechPart) / 32_768);
    measure(
      `1.5 s utterance (${sent} frames): upstream got ${chunks.length} chunk(s): ${describeChunks(figures)}; ` +
        `first 1.5 s ${speechRmsDbfs.toFixed(1)} dBFS, ${nonZeroInPadding} non-zero samples in the last 1.5 s`,
    );
    expect(chunks).toHaveLength(1);
    expect(nonZeroInPadding).toBe(0);
    // The first 1.5 s is the tone (amplitude 0.5: a sine at -9 dBFS RMS) from its first sample.
    expect(speechRmsDbfs).toBeGreaterThan(-12);
    expect(figures[0]?.leadingZeros).toBeLessThan(10);
    expect(figures[0]?.trailingZeros).toBeLessThanOrEqual(1.5 * OUT_RATE_HZ + 10);
    expect(client.ofType("error")).toEqual([]);
  });

  it("keeps a client's messages in order: an unpaced burst of Speaking, 1.5 s of frames and Speaking(false) gives one chunk", async () => {
    const participantId = `e2e-audio-burst-${runId}`;
    const client = await openClient(participantId, true);
    openSockets.push(client);
    client.sendMessage({ speaking: { speaking: true } });
    for (const frame of makeFrames([{ kind: "tone", ms: 1_500 }])) sendAudio(client, frame);
    client.sendMessage({ speaking: { speaking: false } });
    await waitForChunks(participantId, 1, [client]);
    await sleep(1_000);
    const chunks = pcmFor(participantId);
    measure(`unpaced burst (1.5 s of frames between the markers): ${chunks.length} chunk(s): ${describeChunks(chunks.map((c) => expectToneChunk(c, participantId, TRACK)))}`);
    expect(chunks).toHaveLength(1);
    // Every frame was gathered: 1.5 s of tone and exactly 1.5 s of padding. A frame handled before
    // Speaking(true) would have been dropped, leaving more padding.
    const figures = analyse(chunks[0] as ReceivedFrame);
    expect(figures.leadingZeros).toBeLessThan(10);
    expect(figures.trailingZeros).toBeLessThanOrEqual(1.5 * OUT_RATE_HZ + 10);
  });

  it("a 0.5 s utterance gives no chunk", async () => {
    const participantId = `e2e-audio-500ms-${runId}`;
    const client = await openClient(participantId, true);
    openSockets.push(client);

    client.sendMessage({ speaking: { speaking: true } });
    const { sent } = await sendPaced(makeFrames([{ kind: "tone", ms: 500 }]), (f) => sendAudio(client, f));
    client.sendMessage({ speaking: { speaking: false } });
    await sleep(2_500);
    const received = fake.frames.filter((f) => f.participantId === participantId);
    measure(`0.5 s utterance (${sent} frames): upstream got ${received.length} frame(s) in the 2.5 s after Speaking(false)`);
    expect(received).toEqual([]);
    expect(client.ofType("error")).toEqual([]);
    expect(client.closed).toBeNull();
  });
});

describe("audio through the built-in voice gate (no Speaking messages, Hello.vad = false)", () => {
  it("a loud tone after silence is sent; silence and low noise alone are never sent", async () => {
    const toneId = `e2e-audio-gate-tone-${runId}`;
    const quietId = `e2e-audio-gate-quiet-${runId}`;
    const [toneClient, quietClient] = await Promise.all([openClient(toneId, false), openClient(quietId, false)]);
    openSockets.push(toneClient, quietClient);

    // Both participants stream at once, to keep the file short.
    const [tone, quiet] = await Promise.all([
      sendPaced(
        makeFrames([
          { kind: "silence", ms: 2_000 },
          { kind: "tone", ms: 4_000 },
          { kind: "silence", ms: 1_000 },
        ]),
        (f) => sendAudio(toneClient, f),
      ),
      sendPaced(
        makeFrames([
          { kind: "silence", ms: 3_000 },
          { kind: "noise", ms: 5_000, lsb: 30 },
        ]),
        (f) => sendAudio(quietClient, f),
      ),
    ]);
    await waitForChunks(toneId, 1, [toneClient]);
    await sleep(1_500);

    const chunks = pcmFor(toneId);
    const figures = chunks.map((c) => expectToneChunk(c, toneId, TRACK));
    const quietFrames = fake.frames.filter((f) => f.participantId === quietId);
    measure(
      `gate, 2 s silence + 4 s tone + 1 s silence (${tone.sent} frames): ${chunks.length} chunk(s): ${describeChunks(figures)}`,
    );
    measure(`gate, 3 s silence + 5 s of ±30 LSB noise (${quiet.sent} frames): upstream got ${quietFrames.length} frame(s)`);
    // 4 s of tone plus the 0.4 s hangover: one full chunk and a padded 1.4 s one.
    expect(chunks.length).toBeGreaterThanOrEqual(1);
    expect(chunks.length).toBeLessThanOrEqual(2);
    // The gate opened at the tone, not during the 2 s of silence before it (back-dating is <= 80 ms).
    expect(figures[0]?.leadingZeros).toBeLessThan(0.1 * OUT_RATE_HZ);
    expect(quietFrames).toEqual([]);
    expect(toneClient.ofType("error")).toEqual([]);
    expect(quietClient.ofType("error")).toEqual([]);
  });
});

describe("Cloudflare Realtime SFU adapter routes", () => {
  it("/sfu/video JPEG Packets and /sfu/audio PCM Packets reach the upstream; the SFU sockets get no JSON events", async () => {
    const participantId = `e2e-audio-sfu-${runId}`;
    const { token } = await mintConnectToken(dev.url, ADMIN_KEY, participantId, 600);
    const video = await connectUrl(sfuUrl(participantId, "video", token));
    const audio = await connectUrl(sfuUrl(participantId, "audio", token));
    openSockets.push(video, audio);

    const jpegs = await Promise.all([0, 1, 2, 3].map((i) => makeJpeg(320, 240, i)));
    const startedAt = Date.now();
    let videoSent = 0;
    const videoTimer = setInterval(() => {
      const payload = jpegs[videoSent % jpegs.length] as Uint8Array;
      video.sendRaw(Packet.encode({ sequenceNumber: videoSent, timestamp: videoSent * 9_000, payload }).finish());
      videoSent++;
    }, 200);
    let audioResult: { sent: number; elapsedMs: number };
    try {
      audioResult = await sendPaced(
        makeFrames([
          { kind: "silence", ms: 2_000 },
          { kind: "tone", ms: 4_000 },
          { kind: "silence", ms: 1_000 },
        ]),
        (payload, i) => audio.sendRaw(Packet.encode({ sequenceNumber: i, timestamp: i * FRAME_SAMPLES, payload }).finish()),
      );
    } finally {
      clearInterval(videoTimer);
    }

    await waitForChunks(participantId, 1, [video, audio]);
    await sleep(1_500);
    await fake.settle();

    const mine = fake.frames.filter((f) => f.participantId === participantId);
    const videoFrames = mine.filter((f) => f.format === FrameFormat.JPEG);
    const chunks = mine.filter((f) => f.format === FrameFormat.PCM);
    const audioTrack = chunks[0]?.trackId ?? "";
    const figures = chunks.map((c) => expectToneChunk(c, participantId, audioTrack));
    measure(
      `SFU video: sent ${videoSent} JPEG Packets of ${jpegs.map((j) => j.byteLength).join("/")} B at 5 fps over ${Date.now() - startedAt} ms; ` +
        `upstream got ${videoFrames.length} JPEG frame(s) on track "${videoFrames[0]?.trackId}" at +[${videoFrames.map((f) => f.atMs - startedAt).join(", ")}] ms, ` +
        `sizes ${videoFrames.map((f) => `${f.width}x${f.height}/${f.bytes} B`).join(", ")}`,
    );
    measure(`SFU audio: sent ${audioResult.sent} PCM Packets (2 s silence + 4 s tone + 1 s silence); upstream got ${chunks.length} chunk(s) on track "${audioTrack}": ${describeChunks(figures)}`);
    measure(`SFU sockets received: video ${video.events.length + video.malformed.length} message(s), audio ${audio.events.length + audio.malformed.length} message(s)`);

    // 0.2 fps, first frame at once: 1 or 2 frames in ~7 s.
    expect(videoFrames.length).toBeGreaterThanOrEqual(1);
    expect(videoFrames.length).toBeLessThanOrEqual(3);
    for (const frame of videoFrames) {
      expect(frame.decodeError).toBeUndefined();
      expect({ width: frame.width, height: frame.height }).toEqual({ width: 320, height: 240 });
      expect(frame.trackId.length).toBeGreaterThan(0);
    }
    // Pass-through: the JPEG the adapter sent is the JPEG the API gets.
    expect(jpegs.map((j) => j.byteLength)).toContain(videoFrames[0]?.bytes);
    expect(chunks.length).toBeGreaterThanOrEqual(1);
    expect(chunks.length).toBeLessThanOrEqual(2);
    expect(audioTrack.length).toBeGreaterThan(0);
    expect(audioTrack).not.toBe(videoFrames[0]?.trackId);
    // The adapter speaks protobuf Packets only: no events on its sockets.
    expect(video.events).toEqual([]);
    expect(video.malformed).toEqual([]);
    expect(audio.events).toEqual([]);
    expect(audio.malformed).toEqual([]);
    expect(video.closed).toBeNull();
    expect(audio.closed).toBeNull();
  });
});

describe("bad audio", () => {
  it("odd byte length, 3 channels and sample_rate 0 each get an error event bad_audio; the socket stays usable", async () => {
    const participantId = `e2e-audio-bad-${runId}`;
    const client = await openClient(participantId, true);
    openSockets.push(client);
    client.sendMessage({ speaking: { speaking: true } });

    const bad: { what: string; audio: { sampleRate: number; channels: number; data: Uint8Array } }[] = [
      { what: "odd byte length", audio: { sampleRate: IN_RATE_HZ, channels: 1, data: new Uint8Array(1_921) } },
      { what: "channels 3", audio: { sampleRate: IN_RATE_HZ, channels: 3, data: new Uint8Array(960 * 3 * 2) } },
      { what: "sample_rate 0", audio: { sampleRate: 0, channels: 2, data: new Uint8Array(960 * 2 * 2) } },
    ];
    const seen: string[] = [];
    for (const { what, audio } of bad) {
      const fromIndex = client.events.length;
      client.sendMessage({ audio: { trackId: TRACK, timestampMs: Date.now(), ...audio } });
      const error = await client.waitFor((e) => e.type === "error", 5_000, fromIndex);
      expect(error.event.code, what).toBe("bad_audio");
      expect(typeof error.event.message, what).toBe("string");
      expect(client.isOpen, `${what}: socket still open`).toBe(true);
      seen.push(`${what}: ${String(error.event.message)}`);
    }
    measure(`bad audio errors: ${seen.join(" | ")}`);

    // Still usable: a valid 1.2 s utterance afterwards is sent, padded.
    const { sent } = await sendPaced(makeFrames([{ kind: "tone", ms: 1_200 }]), (f) => sendAudio(client, f));
    client.sendMessage({ speaking: { speaking: false } });
    await waitForChunks(participantId, 1, [client]);
    await sleep(1_000);
    const chunks = pcmFor(participantId);
    const figures = chunks.map((c) => expectToneChunk(c, participantId, TRACK));
    measure(`after bad audio: ${sent} valid frames -> ${chunks.length} chunk(s): ${describeChunks(figures)}`);
    expect(chunks).toHaveLength(1);
    expect(figures[0]?.trailingZeros).toBeGreaterThanOrEqual(CHUNK_SAMPLES - 1.2 * OUT_RATE_HZ - 10);
    expect(client.ofType("error")).toHaveLength(3);
    expect(client.closed).toBeNull();
  });
});
