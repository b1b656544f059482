/**
 * Overload is not abuse (docs/DESIGN.md §5): budgets judge a client by what it sent, not by when a busy
 * isolate read it. An honest client (16 kHz audio in 20 ms frames plus a 1 fps JPEG, paced at real
 * time) whose messages reach the object late and then in a burst is never closed, and not even
 * refused while the burst stays within AUDIO_MAX_LATENESS_S; a client sending 3x real time for 15 s
 * is closed. The sockets of one participant share a cap: 16 sockets x 4 tracks get one client's worth.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { AUDIO_MAX_LATENESS_S, MAX_CLIENTS_PER_PARTICIPANT, PARTICIPANT_AUDIO_MAX_SPEED_RATIO, SOCKET_BUDGET_MESSAGES_PER_S } from "../../src/config/limits";
import { deepfake_edge } from "../../src/gen/ingest.js";
import { VideoIngest } from "../../src/media/video-ingest";
import { DEFAULT_BUDGET, ParticipantBudget, SocketBudget, audioSeconds } from "../../src/session/budget";
import { messagePath } from "./socket-messages-fakes";

const v1 = deepfake_edge.v1;
const FRAME_S = 0.02;
const AUDIO_BYTES = 320 * 2; // 20 ms of 16 kHz mono s16le
const JPEG_BYTES = 40_000;

/** An honest client's messages, sent at real time: `at` is when each was sent (ms after the socket opened). */
function honestSchedule(seconds: number): Array<{ sentMs: number; kind: "audio" | "video" }> {
  const out: Array<{ sentMs: number; kind: "audio" | "video" }> = [];
  for (let i = 0; i * 20 < seconds * 1000; i++) {
    out.push({ sentMs: i * 20, kind: "audio" });
    if (i % 50 === 0) out.push({ sentMs: i * 20, kind: "video" });
  }
  return out;
}

interface Stall {
  /** When the object stops reading (s after the socket opened), for how long, and how fast it then catches up. */
  atS: number;
  forS: number;
  catchUpSpeed: number;
}

/** When each message reaches the object: nothing is read during a stall, then the backlog at `catchUpSpeed` x real time. */
function arrivals(schedule: ReadonlyArray<{ sentMs: number }>, stalls: readonly Stall[]): number[] {
  const out: number[] = [];
  let lastMs = 0;
  for (const { sentMs } of schedule) {
    let at = sentMs;
    for (const s of stalls) {
      const start = s.atS * 1000;
      const end = start + s.forS * 1000;
      if (at >= start && at < end) at = end + (sentMs - start) / s.catchUpSpeed;
    }
    lastMs = Math.max(lastMs, at);
    out.push(lastMs);
  }
  return out;
}

function feedBudget(budget: SocketBudget, schedule: ReturnType<typeof honestSchedule>, at: readonly number[], t0: number) {
  let refused = 0;
  let closed = false;
  schedule.forEach((m, i) => {
    const now = t0 + at[i]!;
    const bytes = m.kind === "audio" ? AUDIO_BYTES + 24 : JPEG_BYTES;
    const refusal = budget.admitMessage(bytes, now) ?? (m.kind === "audio" ? budget.admitAudio("mic", audioSeconds(AUDIO_BYTES, 16_000, 1), now) : null);
    if (refusal) refused++;
    if (refusal?.close) closed = true;
  });
  return { refused, closed };
}

const stallArb = fc.record({ atS: fc.integer({ min: 1, max: 150 }), forS: fc.double({ min: 0.1, max: 120, noNaN: true }), catchUpSpeed: fc.double({ min: 1.5, max: 1e5, noNaN: true }) });

describe("budgets under overload: an honest client is judged by what it sent", () => {
  it("stalls then catch-up bursts of honestly paced audio and video never close a socket (property)", () => {
    const schedule = honestSchedule(180);
    fc.assert(
      fc.property(fc.array(stallArb, { minLength: 1, maxLength: 4 }), (stalls) => {
        const { closed } = feedBudget(new SocketBudget(0), schedule, arrivals(schedule, stalls), 0);
        expect(closed).toBe(false);
      }),
      { numRuns: 25 },
    );
  });

  it(`and are not even refused while the object runs no more than ${AUDIO_MAX_LATENESS_S} s late (property)`, () => {
    const schedule = honestSchedule(1_000);
    const shortStall = fc.record({ atS: fc.integer({ min: 1, max: 100 }), forS: fc.double({ min: 0.1, max: AUDIO_MAX_LATENESS_S - 1, noNaN: true }), catchUpSpeed: fc.double({ min: 1.5, max: 1e5, noNaN: true }) });
    fc.assert(
      fc.property(fc.array(shortStall, { minLength: 1, maxLength: 3 }), (stalls) => {
        // One stall at a time: the object catches up on one before it falls behind again.
        const spaced = stalls.map((s, i) => ({ ...s, atS: s.atS + i * 300 }));
        expect(feedBudget(new SocketBudget(0), schedule, arrivals(schedule, spaced), 0).refused).toBe(0);
      }),
      { numRuns: 10 },
    );
    // The first message itself may be read late: the time since the socket opened is credit.
    const t0 = 1_000_000;
    const late = arrivals(schedule, [{ atS: 0, forS: 20, catchUpSpeed: 1e4 }]);
    expect(feedBudget(new SocketBudget(t0 + late[0]!, DEFAULT_BUDGET, undefined, t0), schedule, late, t0).refused).toBe(0);
  });
});

describe("budgets close a client that really sends too fast", () => {
  it("audio at 3x real time for 15 s is closed (after rate_limited refusals), judged over at least 10 s", () => {
    const budget = new SocketBudget(0);
    let firstRefusalMs = -1;
    let closedMs = -1;
    for (let t = 0; t < 15_000 && closedMs < 0; t += 20) {
      for (let k = 0; k < 3; k++) {
        const refusal = budget.admitMessage(AUDIO_BYTES + 24, t) ?? budget.admitAudio("mic", FRAME_S, t);
        if (refusal && firstRefusalMs < 0) firstRefusalMs = t;
        if (refusal?.close) closedMs = t;
      }
    }
    expect(firstRefusalMs).toBeGreaterThan(0);
    expect(closedMs).toBeGreaterThan(firstRefusalMs);
    expect(closedMs).toBeLessThan(15_000);
    // 3x for 15 s sent 45 s of audio: more than 1.5x real time over a 10 s window (15 s) plus the burst.
    expect(closedMs).toBeGreaterThanOrEqual(((DEFAULT_BUDGET.audioSpeedRatio * DEFAULT_BUDGET.windowS + DEFAULT_BUDGET.audioBurstS) / 3) * 1000 - 20);
  });

  it("audio at 1.4x real time (under the 1.5x budget) for 5 minutes is never refused", () => {
    const budget = new SocketBudget(0);
    let refused = 0;
    for (let t = 0; t < 300_000; t += 20) if (budget.admitAudio("mic", FRAME_S * 1.4, t)) refused++;
    expect(refused).toBe(0);
  });

  it("through the object's message path: 3x real time is answered rate_limited, then closed with 1008 within 15 s", async () => {
    const { messages, open } = messagePath();
    const ws = open(1_000_000);
    let t = 1_000_000;
    for (; t < 1_015_000 && !ws.closed; t += 20) for (let k = 0; k < 3; k++) await messages.receive(ws, audioMessage("mic"), t);
    expect(ws.errors("rate_limited").length).toBeGreaterThan(0);
    expect(ws.closed).toMatchObject({ code: 1008, reason: "over the audio budget" });
    expect(t).toBeLessThan(1_015_000);
  });

  it("through the object's message path: a 20 s stall then a catch-up burst gets no error at all, a 90 s one keeps its socket", async () => {
    for (const stallS of [20, 90]) {
      const { messages, open, counts } = messagePath();
      const t0 = 1_000_000;
      const ws = open(t0);
      const schedule = honestSchedule(stallS + 40);
      const at = arrivals(schedule, [{ atS: 10, forS: stallS, catchUpSpeed: 1e4 }]);
      for (const [i, m] of schedule.entries()) await messages.receive(ws, m.kind === "audio" ? audioMessage("mic") : JPEG_MESSAGE, t0 + at[i]!);
      expect(ws.closed).toBeNull();
      if (stallS <= AUDIO_MAX_LATENESS_S) {
        expect(ws.errors()).toEqual([]);
        expect(counts.rate_limited ?? 0).toBe(0);
      } else {
        // Beyond the lateness a track may catch up, the excess is refused: only counted and answered.
        expect(ws.errors().every((e) => e.code === "rate_limited")).toBe(true);
      }
    }
  });
});

describe("the sockets of one participant share a cap", () => {
  it(`${MAX_CLIENTS_PER_PARTICIPANT} sockets x 4 tracks, each at its own 1.5x budget, get no more audio than one client's worth`, () => {
    const participant = new ParticipantBudget(0);
    const sockets = Array.from({ length: MAX_CLIENTS_PER_PARTICIPANT }, () => new SocketBudget(0, DEFAULT_BUDGET, participant, 0));
    const seconds = 30;
    let admittedS = 0;
    let closes = 0;
    // Each track sends 1.5x real time (30 ms of audio every 20 ms), as fast as its own budget allows.
    for (let t = 0; t < seconds * 1000; t += 20) {
      for (const s of sockets) {
        for (let k = 0; k < 4; k++) {
          const refusal = s.admitMessage(AUDIO_BYTES, t) ?? s.admitAudio(`t${k}`, 0.03, t);
          if (!refusal) admittedS += 0.03;
          else if (refusal.close) closes++;
        }
      }
    }
    const oneClient = PARTICIPANT_AUDIO_MAX_SPEED_RATIO * seconds + AUDIO_MAX_LATENESS_S;
    expect(admittedS).toBeLessThanOrEqual(oneClient + 0.03);
    expect(admittedS).toBeGreaterThan(PARTICIPANT_AUDIO_MAX_SPEED_RATIO * seconds * 0.9);
    // Without the shared cap these 64 tracks would have had 16 x 4 x 1.5 x 30 = 2 880 s admitted.
    expect(admittedS).toBeLessThan((MAX_CLIENTS_PER_PARTICIPANT * 4 * 1.5 * seconds) / 10);
    expect(closes).toBeGreaterThan(0); // the participant keeps sending far over its cap
  });

  it(`messages: ${MAX_CLIENTS_PER_PARTICIPANT} sockets at the per-socket rate get the participant ${SOCKET_BUDGET_MESSAGES_PER_S} a second together`, () => {
    const participant = new ParticipantBudget(0);
    const sockets = Array.from({ length: MAX_CLIENTS_PER_PARTICIPANT }, () => new SocketBudget(0, DEFAULT_BUDGET, participant, 0));
    const seconds = 20;
    let admitted = 0;
    for (let t = 0; t < seconds * 1000; t += 4) for (const s of sockets) if (!s.admitMessage(100, t)) admitted++;
    expect(admitted).toBeLessThanOrEqual(SOCKET_BUDGET_MESSAGES_PER_S * seconds + DEFAULT_BUDGET.messagesBurst + 1);
    expect(admitted).toBeGreaterThan(SOCKET_BUDGET_MESSAGES_PER_S * seconds);
  });

  it("an honest second socket of the participant (a dashboard with audio) fits beside the first", () => {
    const participant = new ParticipantBudget(0);
    const [a, b] = [new SocketBudget(0, DEFAULT_BUDGET, participant, 0), new SocketBudget(0, DEFAULT_BUDGET, participant, 0)];
    let refused = 0;
    for (let t = 0; t < 120_000; t += 20) for (const s of [a, b]) if (s.admitMessage(AUDIO_BYTES, t) ?? s.admitAudio("mic", FRAME_S, t)) refused++;
    expect(refused).toBe(0);
  });
});

describe("under overload the first thing shed is the encode of a sampled video frame", () => {
  it("a frame sampled while the isolate runs late is skipped before it is encoded (busy), and the next on-time one is encoded", async () => {
    let late = true;
    let encodes = 0;
    const video = new VideoIngest({
      fps: 1, jpegQuality: 75, limits: { maxWidth: 640, maxHeight: 480, maxPixels: 640 * 480 }, toleranceRatio: 0.25, maxTracks: 8,
      encode: async () => (encodes++, new Uint8Array(4)),
      beforeEncode: async () => !late,
    });
    const frame = { kind: "video" as const, trackId: "camera", width: 640, height: 480, format: "I420" as const, source: "camera" as const, timestampMs: 0, data: new Uint8Array(640 * 480 * 1.5) };
    expect(await video.process(frame, 0)).toEqual({ kind: "busy" });
    expect(encodes).toBe(0);
    late = false;
    expect((await video.process(frame, 1_000)).kind).toBe("jpeg");
    expect(encodes).toBe(1);
  });
});

// ---- the object's message path (parser, budgets, media intake): socket-messages-fakes.ts ----

const pcm = new Uint8Array(AUDIO_BYTES).map((_, i) => (i * 37) & 255);
const audioMessage = (trackId: string) => v1.ClientMessage.encode({ audio: { trackId, sampleRate: 16_000, channels: 1, data: pcm } }).finish().slice().buffer;
/** A 640x480 baseline JPEG's headers (DQT, SOF0, SOS) and filler scan data, the size of a camera frame. */
const jpeg = new Uint8Array(JPEG_BYTES);
jpeg.set([0xff, 0xd8, 0xff, 0xdb, 0, 67, 0, ...new Array<number>(64).fill(1)]);
jpeg.set([0xff, 0xc0, 0, 11, 8, 0x01, 0xe0, 0x02, 0x80, 1, 1, 0x11, 0, 0xff, 0xda, 0, 8, 1, 1, 0, 0, 0x3f, 0], 71);
jpeg.set([0xff, 0xd9], JPEG_BYTES - 2);
const JPEG_MESSAGE = v1.ClientMessage.encode({ video: { trackId: "camera", width: 640, height: 480, format: v1.PixelFormat.JPEG, source: 1, data: jpeg } }).finish().slice().buffer;
