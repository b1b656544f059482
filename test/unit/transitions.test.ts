/**
 * Transitions (docs/DESIGN.md §16.4 "Memory follows storage", §7 payload): a change is committed before it is
 * adopted or announced; a failing commit leaves memory and events untouched; the payload carries
 * `reason` and `simulated`; the upstream message is capped.
 */
import { describe, expect, it } from "vitest";
import { activateParticipant } from "../../src/session/active-participant";
import { Transitions, type TransitionOutputs } from "../../src/session/transitions";
import { encodeResultEvent } from "../../src/protocol/dataspike";
import type { DeepfakeAlert, ServerEvent } from "../../src/protocol/events";
import type { TrackChanges } from "../../src/session/store";
import { parseConfig } from "../../src/config/config";

const config = parseConfig({ DEV_MODE: "true", TRACK_TTL_S: "10" });

function setup(options: { failCommits?: number } = {}) {
  let failures = options.failCommits ?? 0;
  const commits: Array<{ alert: DeepfakeAlert | null; tracks: TrackChanges }> = [];
  const events: ServerEvent[] = [];
  const counts: Record<string, number> = {};
  const out: TransitionOutputs = {
    commit: (alert, tracks) => {
      if (failures > 0) {
        failures--;
        throw new Error("SQLITE_FULL: database or disk is full");
      }
      commits.push({ alert, tracks });
    },
    persistActivity: () => undefined,
    simulated: true,
    broadcast: (e) => events.push(e),
    levelChanged: () => undefined,
    deliverWebhooks: () => undefined,
    rearm: () => undefined,
    count: (name, by = 1) => void (counts[name] = (counts[name] ?? 0) + by),
    log: () => undefined,
  };
  const live = activateParticipant(config, { participantId: "p", level: "clear", sinceMs: 0 }, [], 0, async () => new Uint8Array(), {
    send: () => undefined,
    count: () => undefined,
  });
  return { transitions: new Transitions(out), live, commits, events, counts };
}

const result = (kind: "clear" | "suspicious" | "alert", trackId: string, message = "m") =>
  encodeResultEvent({ kind, participantId: "p", trackId, message }).slice().buffer as ArrayBuffer;

describe("Transitions", () => {
  it("a failing transaction leaves memory and events untouched; the same result applied again still transitions", () => {
    const { transitions, live, commits, events, counts } = setup({ failCommits: 1 });
    transitions.onUpstreamMessage(live, result("alert", "camera"), 1_000);
    expect(live.detection.level).toBe("clear");
    expect(live.detection.levelTracks()).toEqual([]);
    expect(events).toEqual([]);
    expect(counts.storage_errors).toBe(1);
    transitions.onUpstreamMessage(live, result("alert", "camera"), 2_000);
    expect(live.detection.level).toBe("alert");
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: "deepfake_alert", previous_level: "clear", level: "alert", track_id: "camera", reason: "result", simulated: true });
    expect(commits).toHaveLength(1);
    expect(commits[0]!.tracks.upsert).toEqual([{ trackId: "camera", level: "alert", lastActivityMs: 2_000 }]);
  });

  it("a track's level change that leaves the participant's level is still committed (and nothing announced)", () => {
    const { transitions, live, commits, events } = setup();
    transitions.onUpstreamMessage(live, result("alert", "camera"), 0);
    transitions.onUpstreamMessage(live, result("clear", "microphone"), 1);
    expect(events).toHaveLength(1);
    expect(commits[1]).toEqual({ alert: null, tracks: { upsert: [{ trackId: "microphone", level: "clear", lastActivityMs: 1 }], remove: [] } });
  });

  it("expiry and closing are transitions with their reason; the removed tracks are deleted in the same commit", () => {
    const { transitions, live, commits, events } = setup();
    transitions.onUpstreamMessage(live, result("clear", "camera"), 0);
    transitions.onUpstreamMessage(live, result("alert", "microphone"), 0);
    transitions.trackSent(live, "camera", 9_000);
    transitions.expireTracks(live, 10_000);
    expect(events.at(-1)).toMatchObject({ level: "clear", previous_level: "alert", track_id: "microphone", reason: "track_expired" });
    expect(commits.at(-1)!.tracks.remove).toEqual(["microphone"]);
    transitions.onUpstreamMessage(live, result("suspicious", "microphone"), 11_000);
    transitions.closeTracks(live, ["microphone"], 12_000);
    expect(events.at(-1)).toMatchObject({ level: "clear", previous_level: "suspicious", track_id: "microphone", reason: "track_closed" });
  });

  it("caps the upstream message at 1 KiB on a character boundary", () => {
    const { transitions, live, events } = setup();
    transitions.onUpstreamMessage(live, result("alert", "camera", "ü".repeat(5_000)), 0);
    const message = (events[0] as DeepfakeAlert).message;
    expect(new TextEncoder().encode(message).byteLength).toBeLessThanOrEqual(1_024);
    expect(message.endsWith("…")).toBe(true);
    expect(message.slice(0, -1)).toBe("ü".repeat((message.length - 1)));
  });
});
