import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { DetectionState, type Outcome } from "../../src/detection/state-machine";
import { isLevel, LEVELS, levelRank, type Level, type ResultKind } from "../../src/protocol/levels";

const TTL_MS = 120_000;
const CAMERA = "cam";
const MIC = "mic";

function fresh(initialLevel: Level = "clear"): DetectionState {
  return new DetectionState({ initialLevel, trackTtlMs: TTL_MS });
}

function transition(previous: Level, level: Level, trackId: string, message: string): Outcome {
  return { kind: "transition", transition: { previous, level, trackId, message, reason: "result" } };
}

describe("levels", () => {
  it("orders clear < suspicious < alert", () => {
    expect(LEVELS).toEqual(["clear", "suspicious", "alert"]);
    expect(LEVELS.map(levelRank)).toEqual([0, 1, 2]);
  });

  it("isLevel accepts only the three levels", () => {
    for (const level of LEVELS) expect(isLevel(level)).toBe(true);
    for (const value of ["ALERT", "error", "unknown", "", null, undefined, 2, {}]) {
      expect(isLevel(value)).toBe(false);
    }
  });
});

describe("DetectionState", () => {
  it("moves clear -> suspicious -> alert -> clear with the right previous level", () => {
    const s = fresh();
    expect(s.level).toBe("clear");
    expect(s.applyResult("suspicious", CAMERA, "odd", 1)).toEqual(transition("clear", "suspicious", CAMERA, "odd"));
    expect(s.applyResult("alert", CAMERA, "fake", 2)).toEqual(transition("suspicious", "alert", CAMERA, "fake"));
    expect(s.applyResult("clear", CAMERA, "ok", 3)).toEqual(transition("alert", "clear", CAMERA, "ok"));
    expect(s.level).toBe("clear");
  });

  it("repeated identical results change nothing", () => {
    const s = fresh();
    expect(s.applyResult("clear", CAMERA, "ok", 1)).toEqual({ kind: "unchanged", level: "clear" });
    s.applyResult("alert", CAMERA, "fake", 2);
    expect(s.applyResult("alert", CAMERA, "fake again", 3)).toEqual({ kind: "unchanged", level: "alert" });
    expect(s.level).toBe("alert");
  });

  it("error and unknown results change nothing", () => {
    const s = fresh();
    s.applyResult("suspicious", CAMERA, "odd", 1);
    expect(s.applyResult("error", CAMERA, "decode failed", 2)).toEqual({
      kind: "error",
      trackId: CAMERA,
      message: "decode failed",
    });
    expect(s.applyResult("unknown", MIC, "", 3)).toEqual({ kind: "unknown", trackId: MIC });
    expect(s.level).toBe("suspicious");
    // Neither counts as activity nor creates a track.
    expect(s.tracks(3)).toEqual([{ trackId: CAMERA, level: "suspicious", lastActivityMs: 1 }]);
  });

  it("a camera in alert and a microphone reporting clear do not flap", () => {
    const s = fresh();
    expect(s.applyResult("alert", CAMERA, "fake face", 1000).kind).toBe("transition");
    for (let i = 0; i < 5; i++) {
      expect(s.applyResult("clear", MIC, "ok", 2000 + i * 3000)).toEqual({ kind: "unchanged", level: "alert" });
      expect(s.applyResult("alert", CAMERA, "fake face", 3000 + i * 3000)).toEqual({ kind: "unchanged", level: "alert" });
    }
    expect(s.level).toBe("alert");
  });

  it("the most severe counting track wins when the severe one recovers", () => {
    const s = fresh();
    s.applyResult("suspicious", MIC, "odd voice", 1);
    s.applyResult("alert", CAMERA, "fake face", 2);
    expect(s.applyResult("clear", CAMERA, "ok", 3)).toEqual(transition("alert", "suspicious", CAMERA, "ok"));
  });

  it("a camera silent for longer than the ttl stops counting: mic clear moves to clear", () => {
    const s = fresh();
    s.applyResult("alert", CAMERA, "fake face", 0);
    s.applyResult("clear", MIC, "ok", 1000);
    // The mic keeps sending; the camera goes silent.
    s.touchTrack(MIC, 60_000);
    expect(s.applyResult("clear", MIC, "ok", TTL_MS - 1)).toEqual({ kind: "unchanged", level: "alert" });
    expect(s.applyResult("clear", MIC, "still ok", TTL_MS + 1)).toEqual(transition("alert", "clear", MIC, "still ok"));
    expect(s.tracks(TTL_MS + 1).map((t) => t.trackId)).toEqual([MIC]);
  });

  it("a track that returns after expiring starts without its stale level", () => {
    const s = fresh();
    s.applyResult("alert", CAMERA, "fake face", 0);
    s.touchTrack(CAMERA, TTL_MS + 5); // frames resume after a long silence
    expect(s.tracks(TTL_MS + 5)).toEqual([{ trackId: CAMERA, level: null, lastActivityMs: TTL_MS + 5 }]);
    expect(s.applyResult("clear", MIC, "ok", TTL_MS + 6)).toEqual(transition("alert", "clear", MIC, "ok"));
  });

  it("frames sent on a track keep it counting", () => {
    const s = fresh();
    s.applyResult("alert", CAMERA, "fake face", 0);
    for (let t = 60_000; t <= 600_000; t += 60_000) s.touchTrack(CAMERA, t);
    expect(s.applyResult("clear", MIC, "ok", 600_001)).toEqual({ kind: "unchanged", level: "alert" });
  });

  it("a closed track stops counting at once and the level is re-evaluated (reason track_closed)", () => {
    const s = fresh();
    s.applyResult("alert", CAMERA, "fake face", 0);
    s.applyResult("clear", MIC, "ok", 10);
    expect(s.closeTrack(CAMERA, 20)).toMatchObject({ previous: "alert", level: "clear", trackId: CAMERA, reason: "track_closed" });
    expect(s.level).toBe("clear");
    expect(s.tracks(20).map((t) => t.trackId)).toEqual([MIC]);
    expect(s.closeTrack(CAMERA, 30)).toBeNull(); // already gone
  });

  it("when no track counts any more, the level holds", () => {
    const s = fresh();
    s.applyResult("alert", MIC, "cloned voice", 0);
    expect(s.closeTrack(MIC, 10)).toBeNull();
    expect(s.level).toBe("alert");
    expect(s.expire(TTL_MS * 5)).toEqual({ expired: [], transition: null });
    expect(s.level).toBe("alert");
  });

  it("expire() makes a silent track stop counting at its deadline, naming it (reason track_expired)", () => {
    const s = fresh();
    s.applyResult("clear", CAMERA, "ok", 0);
    s.applyResult("alert", MIC, "cloned voice", 1_000);
    for (let t = 10_000; t <= 200_000; t += 10_000) s.touchTrack(CAMERA, t); // the camera keeps sending
    expect(s.nextExpiryMs()).toBe(1_000 + TTL_MS);
    expect(s.expire(1_000 + TTL_MS - 1)).toEqual({ expired: [], transition: null });
    const { expired, transition: tr } = s.expire(1_000 + TTL_MS);
    expect(expired).toEqual([MIC]);
    expect(tr).toMatchObject({ previous: "alert", level: "clear", trackId: MIC, reason: "track_expired" });
    expect(tr?.message).toMatch(/track mic stopped counting/);
    expect(s.nextExpiryMs()).toBe(200_000 + TTL_MS);
  });

  it("a result for a track that had stopped counting starts it again", () => {
    const s = fresh();
    s.applyResult("alert", MIC, "cloned voice", 0);
    s.applyResult("clear", CAMERA, "ok", 0);
    s.closeTrack(MIC, 1);
    expect(s.level).toBe("clear");
    expect(s.applyResult("alert", MIC, "cloned again", 2)).toEqual(transition("clear", "alert", MIC, "cloned again"));
  });

  it("restarts from a persisted alert and holds it until the first result", () => {
    const s = fresh("alert");
    expect(s.level).toBe("alert");
    s.touchTrack(CAMERA, 0); // frames flowing, no result yet
    expect(s.level).toBe("alert");
    expect(s.tracks(0)).toEqual([{ trackId: CAMERA, level: null, lastActivityMs: 0 }]);
    expect(s.applyResult("alert", CAMERA, "still fake", 100)).toEqual({ kind: "unchanged", level: "alert" });
  });

  it("restarts with its persisted tracks: a microphone CLEAR after the restart never drops the camera's ALERT", () => {
    const before = fresh();
    before.applyResult("alert", CAMERA, "fake face", 0);
    before.applyResult("clear", MIC, "ok", 10);
    const restarted = new DetectionState({ initialLevel: before.level, trackTtlMs: TTL_MS, tracks: before.levelTracks() });
    expect(restarted.level).toBe("alert");
    expect(restarted.applyResult("clear", MIC, "ok", 20)).toEqual({ kind: "unchanged", level: "alert" });
  });

  it("clone() is independent: changes on the copy leave the original untouched", () => {
    const s = fresh();
    s.applyResult("clear", CAMERA, "ok", 0);
    const copy = s.clone();
    expect(copy.applyResult("alert", CAMERA, "fake", 1).kind).toBe("transition");
    expect(s.level).toBe("clear");
    expect(s.levelTracks()).toEqual([{ trackId: CAMERA, level: "clear", lastActivityMs: 0 }]);
    expect(copy.levelTracks()).toEqual([{ trackId: CAMERA, level: "alert", lastActivityMs: 1 }]);
  });

  it("without persisted tracks (a store from before per-track rows), a first clear from a fresh track moves to clear", () => {
    const s = fresh("alert");
    expect(s.applyResult("clear", MIC, "ok", 100)).toEqual(transition("alert", "clear", MIC, "ok"));
  });

  it("validates its options", () => {
    expect(() => new DetectionState({ initialLevel: "clear", trackTtlMs: 0 })).toThrow(RangeError);
    expect(() => new DetectionState({ initialLevel: "clear", trackTtlMs: Number.NaN })).toThrow(RangeError);
    expect(() => new DetectionState({ initialLevel: "bogus" as Level, trackTtlMs: 1 })).toThrow(TypeError);
  });

  type Op =
    | { op: "result"; kind: ResultKind; trackId: string; advanceMs: number }
    | { op: "touch"; trackId: string; advanceMs: number }
    | { op: "close"; trackId: string };

  const trackArb = fc.constantFrom("cam", "mic", "screen");
  const advanceArb = fc.integer({ min: 0, max: 90_000 });
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        op: fc.constant("result" as const),
        kind: fc.constantFrom<ResultKind>("unknown", "suspicious", "clear", "error", "alert"),
        trackId: trackArb,
        advanceMs: advanceArb,
      }),
    },
    { weight: 3, arbitrary: fc.record({ op: fc.constant("touch" as const), trackId: trackArb, advanceMs: advanceArb }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("close" as const), trackId: trackArb }) },
  );

  it("transitions are consistent and the level is the max over counting tracks (property)", () => {
    fc.assert(
      fc.property(fc.constantFrom(...LEVELS), fc.array(opArb, { maxLength: 120 }), (initialLevel, ops) => {
        const s = new DetectionState({ initialLevel, trackTtlMs: TTL_MS });
        // Independent model: latest level and last activity per track.
        const model = new Map<string, { level: Level | null; lastMs: number }>();
        let nowMs = 0;
        let expectedLevel: Level = initialLevel;
        for (const op of ops) {
          if (op.op === "close") {
            const closed = model.get(op.trackId);
            const before = s.level;
            const tr = s.closeTrack(op.trackId, nowMs);
            // Closing an unknown track changes nothing; otherwise the expired ones go with it.
            if (closed !== undefined) for (const [id, t] of model) if (nowMs - t.lastMs >= TTL_MS) model.delete(id);
            model.delete(op.trackId);
            const remaining = [...model.values()].filter((t) => t.level !== null);
            if (closed !== undefined && closed.level !== null && remaining.length > 0) {
              expectedLevel = remaining.reduce<Level>((max, t) => (levelRank(t.level as Level) > levelRank(max) ? (t.level as Level) : max), "clear");
            }
            expect(s.level).toBe(expectedLevel);
            if (tr) expect(tr).toMatchObject({ previous: before, level: expectedLevel, trackId: op.trackId, reason: "track_closed" });
            else expect(s.level).toBe(before);
            continue;
          }
          nowMs += op.advanceMs;
          if (op.op === "touch") {
            s.touchTrack(op.trackId, nowMs);
            const prev = model.get(op.trackId);
            const alive = prev !== undefined && nowMs - prev.lastMs < TTL_MS;
            model.set(op.trackId, { level: alive ? prev.level : null, lastMs: nowMs });
            continue;
          }
          const before = s.level;
          const outcome = s.applyResult(op.kind, op.trackId, `m${nowMs}`, nowMs);
          if (op.kind === "error" || op.kind === "unknown") {
            expect(outcome.kind).toBe(op.kind);
            expect(s.level).toBe(before);
            continue;
          }
          model.set(op.trackId, { level: op.kind, lastMs: nowMs });
          // A result also forgets the tracks that have stopped counting (a later close of one is a no-op).
          for (const [id, t] of model) if (nowMs - t.lastMs >= TTL_MS) model.delete(id);
          const counting = [...model.values()].filter((t) => t.level !== null);
          expectedLevel = counting.reduce<Level>(
            (max, t) => (levelRank(t.level as Level) > levelRank(max) ? (t.level as Level) : max),
            "clear",
          );
          if (outcome.kind === "transition") {
            const { transition: tr } = outcome;
            expect(tr.previous).toBe(before);
            expect(tr.level).not.toBe(tr.previous);
            expect(tr.trackId).toBe(op.trackId);
            expect(tr.message).toBe(`m${nowMs}`);
          } else {
            expect(outcome).toEqual({ kind: "unchanged", level: before });
          }
          expect(s.level).toBe(expectedLevel);
          const snapshotMax = s
            .tracks(nowMs)
            .reduce<Level>((max, t) => (t.level !== null && levelRank(t.level) > levelRank(max) ? t.level : max), "clear");
          expect(snapshotMax).toBe(expectedLevel);
        }
        expect(s.level).toBe(expectedLevel);
      }),
      { numRuns: 500 },
    );
  });
});
