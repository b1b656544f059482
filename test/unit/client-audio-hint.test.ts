/**
 * The SDK honours the service's `audio` hint (docs/DESIGN.md §5): no audio leaves while the service says
 * it does not want speech, timed on the client's own clock (resume_in_ms), and audio flows again on
 * `wanted: true`, when the pause is over, or on a new connection.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { FakeClock, connectedClient, fakeServer } from "./client-fakes";

let clock: FakeClock;
let server: ReturnType<typeof fakeServer>;
const frame = { sampleRate: 48_000, channels: 1, data: new Int16Array(4_800) }; // 100 ms: one whole batch

beforeEach(() => {
  clock = new FakeClock();
  server = fakeServer(clock);
});

describe("the audio hint", () => {
  it("sends no audio while speech is not wanted, and again after wanted=true", async () => {
    const client = await connectedClient(server, clock);
    const socket = server.last();
    const heard: boolean[] = [];
    client.on("audio", (e) => heard.push(e.wanted));
    expect(client.sendAudio(frame)).toBe("sent");
    // until_ms is far in the past on this clock: the client times the pause with resume_in_ms.
    socket.push({ type: "audio", wanted: false, until_ms: 5, resume_in_ms: 60_000 });
    for (let i = 0; i < 50; i++) expect(client.sendAudio(frame)).toBe("audio_not_wanted");
    await clock.advance(10_000);
    expect(client.sendAudio(frame)).toBe("audio_not_wanted");
    socket.push({ type: "audio", wanted: true, until_ms: 0, resume_in_ms: 0 });
    expect(client.sendAudio(frame)).toBe("sent");
    expect(socket.sentOf("audio")).toHaveLength(2);
    expect(client.stats.dropped.audio_not_wanted).toBe(51);
    expect(heard).toEqual([false, true]);
  });

  it("resumes on its own when the pause is over, even if wanted=true never arrives", async () => {
    const client = await connectedClient(server, clock);
    const socket = server.last();
    socket.push({ type: "audio", wanted: false, until_ms: 0, resume_in_ms: 3_000 });
    expect(client.sendAudio(frame)).toBe("audio_not_wanted");
    await clock.advance(3_000);
    expect(client.sendAudio(frame)).toBe("sent");
    expect(socket.sentOf("audio")).toHaveLength(1);
  });

  it("a reconnect starts without a pause (the new connection's audio path has none)", async () => {
    const client = await connectedClient(server, clock);
    server.last().push({ type: "audio", wanted: false, until_ms: 0, resume_in_ms: 60_000 });
    expect(client.sendAudio(frame)).toBe("audio_not_wanted");
    server.last().drop(1006);
    await clock.advance(1_500);
    server.last().accept();
    expect(client.sendAudio(frame)).toBe("sent");
  });

  it("a malformed audio event is counted and changes nothing", async () => {
    const client = await connectedClient(server, clock);
    server.last().push({ type: "audio", wanted: "no", until_ms: 0, resume_in_ms: 60_000 });
    server.last().push({ type: "audio", wanted: false });
    expect(client.stats.badEvents).toBe(2);
    expect(client.sendAudio(frame)).toBe("sent");
  });
});
