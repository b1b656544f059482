/**
 * Reconnection: when the socket drops (deploys drop every socket) the SDK reconnects after
 * 1 s doubling to 10 s (+ jitter), resets after a healthy connection, says Hello again, and while
 * disconnected sends nothing: it drops and counts. Fake clock, fake sockets.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { DeepfakeEdgeClient } from "../../src/client/client";
import type { StateChange } from "../../src/client/options";
import { FakeClock, fakeJpeg, fakeServer } from "./client-fakes";

let clock: FakeClock;
let server: ReturnType<typeof fakeServer>;

function makeClient(extra: Partial<ConstructorParameters<typeof DeepfakeEdgeClient>[0]> = {}): DeepfakeEdgeClient {
  return new DeepfakeEdgeClient({
    baseUrl: "https://edge.test",
    participantId: "p1",
    socketFactory: server.factory,
    timers: clock,
    random: () => 0,
    probeAuth: false,
    ...extra,
  });
}

const frame = { width: 640, height: 480, format: "JPEG" as const, data: fakeJpeg() };
const audio = { sampleRate: 48_000, channels: 1, data: new Int16Array(960) };

beforeEach(() => {
  clock = new FakeClock();
  server = fakeServer(clock);
});

describe("reconnect", () => {
  it("reconnects after a drop with 1, 2, 4, 8, 10, 10 s waits while attempts fail, announced in `state` events", async () => {
    const client = makeClient();
    const states: StateChange[] = [];
    client.on("state", (s) => states.push(s));
    void client.connect();
    await clock.advance(0);
    server.last().accept();
    await clock.advance(1_000);
    server.last().drop(1006);

    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      const before = server.sockets.length;
      const droppedAt = clock.now();
      // Step until the next attempt opens a socket.
      while (server.sockets.length === before) await clock.advance(10);
      waits.push(server.last().openedAtMs - droppedAt);
      server.last().fail();
    }
    expect(waits).toEqual([1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
    const announced = states.filter((s) => s.state === "reconnecting").map((s) => s.retryInMs);
    expect(announced.slice(0, 6)).toEqual([1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
    expect(client.stats.reconnects).toBe(7);
  });

  it("adds up to 50 % jitter to each wait", async () => {
    const client = makeClient({ random: () => 0.999 });
    const retries: number[] = [];
    client.on("state", (s) => s.state === "reconnecting" && retries.push(s.retryInMs!));
    void client.connect();
    await clock.advance(0);
    server.last().fail();
    await clock.advance(1_500);
    server.last().fail();
    expect(retries).toEqual([1_500, 2_999]); // 1 s + 49.95 %, 2 s + 49.95 %, rounded
  });

  it("resets the backoff once a connection stayed open 10 s", async () => {
    const client = makeClient();
    const retries: number[] = [];
    client.on("state", (s) => s.state === "reconnecting" && retries.push(s.retryInMs!));
    void client.connect();
    await clock.advance(0);
    server.last().fail();
    await clock.advance(1_000);
    server.last().fail();
    await clock.advance(2_000);
    server.last().accept();
    await clock.advance(9_000);
    server.last().drop(1001, "going away"); // not healthy yet: keeps growing
    await clock.advance(4_000);
    server.last().accept();
    await clock.advance(10_000);
    server.last().drop(1012, "service restart"); // healthy: back to 1 s
    expect(retries).toEqual([1_000, 2_000, 4_000, 1_000]);
  });

  it("says Hello on every connection and repeats the last Speaking state when the host has a VAD", async () => {
    const client = makeClient({ hello: { client: "bot/1.0", vad: true } });
    void client.connect();
    await clock.advance(0);
    const first = server.last();
    first.accept();
    expect(client.setSpeaking(true)).toBe("sent");
    first.drop(1006);
    await clock.advance(1_000);
    const second = server.last();
    second.accept();
    expect(second).not.toBe(first);
    const kinds = second.sent.map((m) => m.payload);
    expect(kinds).toEqual(["hello", "speaking"]);
    expect(second.sent[0]?.hello).toMatchObject({ client: "bot/1.0", vad: true, honorsRate: true });
    expect(second.sent[1]?.speaking?.speaking).toBe(true);
  });

  it("never sends while disconnected: video, audio and speaking are dropped and counted", async () => {
    const client = makeClient();
    expect(client.sendVideo(frame)).toBe("disconnected"); // before connect()
    void client.connect();
    await clock.advance(0);
    const first = server.last();
    expect(client.sendAudio(audio)).toBe("disconnected"); // still connecting
    first.accept(1);
    expect(client.sendVideo(frame)).toBe("sent");
    expect(client.sendAudio(audio)).toBe("sent");
    first.drop(1006);
    const sentBefore = first.raw.length;
    expect(client.sendVideo(frame)).toBe("disconnected");
    expect(client.sendAudio(audio)).toBe("disconnected");
    expect(client.setSpeaking(false)).toBe("disconnected");
    expect(first.raw.length).toBe(sentBefore);
    // 5 refused sends, and the audio frame that was waiting for its 100 ms batch when the socket dropped.
    expect(client.stats.dropped.disconnected).toBe(6);
    expect(client.isReady).toBe(false);

    await clock.advance(1_000);
    server.last().accept(1);
    await clock.advance(1_000);
    expect(client.sendVideo(frame)).toBe("sent");
    expect(server.last().sentOf("video")).toHaveLength(1);
  });

  it("re-reads the rate from the new `ready` after a reconnect", async () => {
    const client = makeClient();
    void client.connect();
    await clock.advance(0);
    server.last().accept(1);
    server.last().drop(1006);
    await clock.advance(1_000);
    server.last().accept(0);
    expect(client.videoFps).toBe(0);
    expect(client.sendVideo(frame)).toBe("rate_limited");
  });

  it("asks a token provider again before every attempt", async () => {
    let minted = 0;
    const client = makeClient({ token: async () => `token-${++minted}` });
    void client.connect();
    await clock.advance(0);
    server.last().accept();
    server.last().drop(1006);
    await clock.advance(1_000);
    expect(server.sockets.map((s) => s.token)).toEqual(["token-1", "token-2"]);
  });

  it("does not reconnect after close(), after a terminal close code, or with reconnect: false", async () => {
    const client = makeClient();
    const ready = client.connect();
    await clock.advance(0);
    server.last().accept();
    await ready;
    client.close();
    expect(server.last().closedByClient).toEqual({ code: 1000, reason: "client closed" });
    await clock.advance(60_000);
    expect(server.sockets).toHaveLength(1);
    expect(client.state).toBe("closed");

    const policy = makeClient();
    const states: StateChange[] = [];
    policy.on("state", (s) => states.push(s));
    void policy.connect();
    await clock.advance(0);
    server.last().accept();
    server.last().drop(1008, "50 bad messages in a row");
    await clock.advance(60_000);
    expect(server.sockets).toHaveLength(2);
    expect(states.at(-1)).toMatchObject({ state: "closed", code: 1008, reason: "50 bad messages in a row" });

    const once = makeClient({ reconnect: false });
    const attempt = once.connect();
    await clock.advance(0);
    server.last().fail();
    await expect(attempt).rejects.toThrow(/socket closed|upgrade failed/);
    await clock.advance(60_000);
    expect(server.sockets).toHaveLength(3);
  });

  it("connect() stays pending across failed attempts and resolves with the first `ready`", async () => {
    const client = makeClient();
    let resolved: unknown = null;
    void client.connect().then((r) => (resolved = r));
    await clock.advance(0);
    server.last().fail();
    await clock.advance(1_000);
    expect(resolved).toBeNull();
    server.last().accept(0.2);
    await clock.advance(0);
    expect(resolved).toMatchObject({ type: "ready", video_fps: 0.2 });
    expect(client.connect()).toBe(client.connect());
  });
});
