/**
 * The budget wiring in SocketMessages (docs/DESIGN.md §5): a socket over its budget gets `rate_limited`
 * error events and then a 1008 close; the participant's other sockets are unaffected; after a policy
 * close new sockets are refused for a while, so reconnecting buys no fresh budget.
 */
import { describe, expect, it } from "vitest";
import { deepfake_edge } from "../../src/gen/ingest.js";
import { POLICY_CLOSE_COOLDOWN_MS, SOCKET_BUDGET_MESSAGES_BURST, SOCKET_RATE_LIMITED_EVENTS_PER_S } from "../../src/config/limits";
import { messagePath } from "./socket-messages-fakes";

const v1 = deepfake_edge.v1;

const audio = (ms: number) =>
  v1.ClientMessage.encode({ audio: { trackId: "mic", sampleRate: 48_000, channels: 1, timestampMs: 0, data: new Uint8Array(Math.round(48 * ms) * 2) } }).finish().slice().buffer;

describe("SocketMessages budgets", () => {
  it("audio at 10x real time: rate_limited events (capped per second), then a 1008 close; the participant's other socket is unaffected", async () => {
    const { messages, open, counts } = messagePath();
    const flood = open();
    const calm = open();
    let t = 1_000_000;
    for (let tick = 0; tick < 200 && !flood.closed; tick++, t += 20) {
      for (let i = 0; i < 10; i++) await messages.receive(flood, audio(20), t); // 200 ms of audio per 20 ms
      await messages.receive(calm, audio(20), t); // real time
    }
    expect(flood.errors("rate_limited").length).toBeGreaterThan(0);
    expect(flood.errors("rate_limited").length).toBeLessThanOrEqual(SOCKET_RATE_LIMITED_EVENTS_PER_S * 5);
    expect(flood.errors().every((e) => e.code === "rate_limited")).toBe(true);
    expect(flood.closed).toMatchObject({ code: 1008, reason: "over the audio budget" });
    expect(counts.rate_limited).toBeGreaterThan(flood.errors("rate_limited").length);
    expect(calm.errors()).toEqual([]);
    expect(calm.closed).toBeNull();
    // The calm socket keeps going after the flood socket is gone.
    for (let i = 0; i < 100; i++, t += 20) await messages.receive(calm, audio(20), t);
    expect(calm.errors()).toEqual([]);
  });

  it("messages still arriving from a socket closed for policy cost nothing: no events, no counts, no log line each", async () => {
    const { messages, open, counts } = messagePath();
    const flood = open();
    let t = 1_000_000;
    for (let tick = 0; tick < 200 && !flood.closed; tick++, t += 20) for (let i = 0; i < 10; i++) await messages.receive(flood, audio(20), t);
    expect(flood.closed?.code).toBe(1008);
    const before = { events: flood.sent.length, counts: { ...counts } };
    const warn = console.warn;
    const lines: unknown[] = [];
    console.warn = (...args: unknown[]) => void lines.push(args);
    try {
      // The runtime may still deliver what the client sent before it saw the close.
      for (let i = 0; i < 1_000; i++) await messages.receive(flood, audio(20), t);
    } finally {
      console.warn = warn;
    }
    expect(flood.sent.length).toBe(before.events);
    expect(counts).toEqual(before.counts);
    expect(lines).toEqual([]);
  });

  it("after a policy close new sockets are refused for POLICY_CLOSE_COOLDOWN_MS", async () => {
    const { messages, open } = messagePath();
    const bad = open();
    const now = Date.now();
    expect(messages.cooldown(now)).toBeNull();
    for (let i = 0; i < 60 && !bad.closed; i++) await messages.receive(bad, new Uint8Array([0xff, 0xff]).buffer, now);
    expect(bad.closed?.code).toBe(1008);
    expect(messages.cooldown(Date.now())).toMatch(/retry in \d+ s/);
    expect(messages.cooldown(Date.now() + POLICY_CLOSE_COOLDOWN_MS + 1)).toBeNull();
  });

  it("a purge (reset) forgets the budget all the participant's sockets share: a new socket starts afresh", async () => {
    const { messages, open } = messagePath();
    const first = open();
    const quiet = v1.ClientMessage.encode({ speaking: { speaking: false } }).finish().slice().buffer;
    for (let i = 0; i <= SOCKET_BUDGET_MESSAGES_BURST; i++) await messages.receive(first, quiet, 1_000);
    expect(first.errors("rate_limited").length).toBeGreaterThan(0);
    messages.reset();
    const next = open(1_000);
    await messages.receive(next, quiet, 1_000);
    expect(next.errors()).toEqual([]);
  });

  it("a malformed audio frame is bad_audio, never charged to the audio clock", async () => {
    const { messages, open } = messagePath();
    const ws = open();
    const twoSeconds = v1.ClientMessage.encode({ audio: { trackId: "mic", sampleRate: 8_000, channels: 1, data: new Uint8Array(8_000 * 2 * 2) } }).finish().slice().buffer;
    for (let i = 0; i < 5; i++) await messages.receive(ws, twoSeconds, 1_000);
    expect(ws.errors().map((e) => e.code)).toEqual(["bad_audio", "bad_audio", "bad_audio", "bad_audio", "bad_audio"]);
    await messages.receive(ws, audio(20), 1_000);
    expect(ws.errors("rate_limited")).toEqual([]);
  });
});
