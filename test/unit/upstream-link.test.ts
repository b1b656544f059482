/**
 * UpstreamLink (docs/DESIGN.md §2, §4): one connect attempt shared by concurrent sends, the bounded
 * queue flushed in order, drop-oldest, reconnect 1 s -> 10 s, reset after a healthy connection,
 * connect timeouts, stop(). Fake clock and fake sockets: every wait is exact, in fake time.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { Backoff } from "../../src/shared/backoff";
import { SendQueue, type SendQueueLimits } from "../../src/upstream/send-queue";
import type { Outgoing, UpstreamHooks, UpstreamSocket } from "../../src/upstream/link";
import { CountingUpstreamLink as UpstreamLink } from "../support/counting-link";
import { FakeClock, settle } from "./client-fakes";


type Listener = (event: { data: unknown }) => void;

/** The part of a WebSocket the link uses, recording what it is asked to do. */
class FakeSocket implements UpstreamSocket {
  readonly sent: Uint8Array[] = [];
  closed: { code?: number; reason?: string } | null = null;
  failSend = false;
  readonly #listeners = new Map<string, Listener[]>();

  send(data: ArrayBuffer | Uint8Array): void {
    if (this.failSend) throw new Error("socket is closed");
    this.sent.push(data instanceof Uint8Array ? data : new Uint8Array(data));
  }
  close(code?: number, reason?: string): void {
    this.closed ??= { code, reason };
  }
  addEventListener(type: string, listener: Listener): void {
    this.#listeners.set(type, [...(this.#listeners.get(type) ?? []), listener]);
  }
  fire(type: "message" | "close" | "error", data?: unknown): void {
    for (const listener of this.#listeners.get(type) ?? []) listener({ data });
  }
  get sentText(): string[] {
    return this.sent.map((bytes) => new TextDecoder().decode(bytes));
  }
}

interface Attempt {
  at: number;
  resolve(socket: FakeSocket): void;
  reject(err: Error): void;
}

const HEALTHY_AFTER_MS = 5_000;
const CONNECT_TIMEOUT_MS = 3_000;

let clock: FakeClock;
let attempts: Attempt[];
let events: string[];
let retries: number[];
let dropped: number;
let messages: ArrayBuffer[];

let stale: number;
let sentTracks: string[];
let faults: string[];

function makeLink(capacity: number | SendQueueLimits<Outgoing> = 16, stallTimeoutMs = 0): UpstreamLink {
  const hooks: UpstreamHooks = {
    connected: () => events.push("connected"),
    reconnecting: (retryInMs, reason) => {
      retries.push(retryInMs);
      events.push(`reconnecting ${retryInMs} ${reason}`);
    },
    message: (data) => messages.push(data),
    dropped: (count) => (dropped += count),
    stale: (count) => (stale += count),
    sent: (trackId) => {
      events.push("sent");
      sentTracks.push(trackId);
    },
    fault: (kind) => faults.push(kind),
  };
  return new UpstreamLink({
    connect: () =>
      new Promise<UpstreamSocket>((resolve, reject) => {
        attempts.push({ at: clock.now(), resolve, reject });
      }),
    backoff: new Backoff({ initialMs: 1000, maxMs: 10_000, jitterRatio: 0.5, random: () => 0 }),
    queue: new SendQueue<Outgoing>(typeof capacity === "number" ? { maxItems: capacity, sizeOf: (o) => o.data.byteLength } : capacity),
    healthyAfterMs: HEALTHY_AFTER_MS,
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
    stallTimeoutMs,
    hooks,
    timers: clock,
  });
}

const msg = (text: string): Uint8Array => new TextEncoder().encode(text);

/** Resolves the latest connect attempt with a fresh socket. */
async function accept(): Promise<FakeSocket> {
  const socket = new FakeSocket();
  attempts.at(-1)!.resolve(socket);
  await settle();
  return socket;
}

async function fail(message = "502 Bad Gateway"): Promise<void> {
  attempts.at(-1)!.reject(new Error(message));
  await settle();
}

beforeEach(() => {
  clock = new FakeClock();
  attempts = [];
  events = [];
  retries = [];
  dropped = 0;
  stale = 0;
  sentTracks = [];
  messages = [];
  faults = [];
});

describe("connecting", () => {
  it("does not connect before start(); start() connects once", async () => {
    const link = makeLink();
    link.send(msg("a"));
    await settle();
    expect(attempts).toHaveLength(0);
    expect(link.status).toBe("idle");
    expect(link.queued).toBe(1);
    link.start();
    link.start();
    await settle();
    expect(attempts).toHaveLength(1);
    expect(link.status).toBe("connecting");
  });

  it("concurrent sends while connecting share one connect call", async () => {
    const link = makeLink();
    link.start();
    for (const text of ["a", "b", "c", "d"]) link.send(msg(text));
    await settle();
    expect(attempts).toHaveLength(1);
    expect(link.queued).toBe(4);
  });

  it("flushes queued messages in order on connect, then sends directly", async () => {
    const link = makeLink();
    link.start();
    for (const text of ["a", "b", "c"]) link.send(msg(text));
    const socket = await accept();
    expect(socket.sentText).toEqual(["a", "b", "c"]);
    expect(events).toEqual(["connected", "sent", "sent", "sent"]);
    expect(link.status).toBe("connected");
    expect(link.sent).toBe(3);
    expect(link.connects).toBe(1);
    expect(link.queued).toBe(0);
    link.send(msg("d"));
    expect(socket.sentText).toEqual(["a", "b", "c", "d"]);
    expect(attempts).toHaveLength(1);
  });

  it("a full queue drops the OLDEST message and reports it", async () => {
    const link = makeLink(3);
    link.start();
    for (const text of ["1", "2", "3", "4", "5"]) link.send(msg(text));
    expect(dropped).toBe(2);
    expect(link.queued).toBe(3);
    const socket = await accept();
    expect(socket.sentText).toEqual(["3", "4", "5"]);
  });

  it("a queue over its byte bound drops the oldest messages until the new one fits", async () => {
    const link = makeLink({ maxItems: 16, maxBytes: 10, sizeOf: (o) => o.data.byteLength });
    link.start();
    for (const text of ["aaaa", "bbbb", "cccc"]) link.send(msg(text));
    expect(dropped).toBe(1);
    expect(link.queued).toBe(2);
    const socket = await accept();
    expect(socket.sentText).toEqual(["bbbb", "cccc"]);
  });

  it("after an outage only messages younger than the max age go out; the rest count as stale", async () => {
    const link = makeLink({ maxItems: 64, maxAgeMs: 10_000, sizeOf: (o) => o.data.byteLength });
    // 30 s without an upstream, one frame a second queued meanwhile.
    for (let second = 0; second < 30; second++) {
      link.send(msg(`f${second}`), "camera");
      await clock.advance(1_000);
    }
    expect(link.queued).toBe(30);
    link.start();
    const socket = await accept(); // at t = 30 s
    // Frames queued at t = 20..29 s are at most 10 s old; t = 0..19 s are stale.
    expect(socket.sentText).toEqual(Array.from({ length: 10 }, (_, i) => `f${20 + i}`));
    expect(stale).toBe(20);
    expect(dropped).toBe(0);
  });

  it("reports the track of each message actually sent, never of a dropped one", async () => {
    const link = makeLink({ maxItems: 2, sizeOf: (o) => o.data.byteLength });
    link.start();
    link.send(msg("1"), "microphone");
    link.send(msg("2"), "camera");
    link.send(msg("3"), "camera"); // evicts the microphone message
    expect(sentTracks).toEqual([]);
    await accept();
    expect(sentTracks).toEqual(["camera", "camera"]);
  });

  it("passes binary upstream messages to the hook; text is skipped and reported as a fault", async () => {
    const link = makeLink();
    link.start();
    const socket = await accept();
    socket.fire("message", new Uint8Array([8, 4]).buffer);
    const backing = new Uint8Array([0, 1, 8, 2, 0]);
    socket.fire("message", backing.subarray(2, 4));
    socket.fire("message", "hello");
    expect(messages.map((m) => [...new Uint8Array(m)])).toEqual([[8, 4], [8, 2]]);
    expect(faults).toEqual(["text"]);
    expect(link.status).toBe("connected");
  });
});

describe("reconnecting", () => {
  it("after a drop, retries after 1000, 2000, 4000, 8000, 10000, 10000 ms while connects fail", async () => {
    const link = makeLink();
    link.start();
    const socket = await accept();
    await clock.advance(1000);
    socket.fire("close");
    expect(link.status).toBe("reconnecting");
    expect(events.at(-1)).toBe("reconnecting 1000 upstream closed the connection");
    const dropAt = clock.now();

    const expected = [1000, 2000, 4000, 8000, 10_000, 10_000];
    let t = dropAt;
    for (const [i, delay] of expected.entries()) {
      await clock.advance(delay - 1);
      expect(attempts).toHaveLength(i + 1); // not yet
      await clock.advance(1);
      expect(attempts).toHaveLength(i + 2);
      t += delay;
      expect(attempts.at(-1)!.at).toBe(t);
      await fail();
    }
    expect(retries).toEqual([...expected, 10_000]);
    expect(events.at(-1)).toBe("reconnecting 10000 connect failed: 502 Bad Gateway");
  });

  it("a failed first connect schedules a retry in 1000 ms, then the link connects and flushes", async () => {
    const link = makeLink();
    link.start();
    link.send(msg("kept"));
    await fail("ECONNREFUSED");
    expect(retries).toEqual([1000]);
    expect(events).toEqual(["reconnecting 1000 connect failed: ECONNREFUSED"]);
    expect(link.status).toBe("reconnecting");
    link.send(msg("also kept")); // must not start a connect of its own while a retry is scheduled
    await settle();
    expect(attempts).toHaveLength(1);
    await clock.advance(1000);
    expect(attempts).toHaveLength(2);
    const socket = await accept();
    expect(socket.sentText).toEqual(["kept", "also kept"]);
    expect(link.status).toBe("connected");
  });

  it("error followed by close schedules a single retry", async () => {
    const link = makeLink();
    link.start();
    const socket = await accept();
    socket.fire("error");
    socket.fire("close");
    expect(retries).toEqual([1000]);
    expect(events.at(-1)).toBe("reconnecting 1000 upstream connection error");
    await clock.advance(1000);
    expect(attempts).toHaveLength(2);
  });

  it("ignores messages and closes from a socket that was replaced", async () => {
    const link = makeLink();
    link.start();
    const old = await accept();
    old.fire("close");
    await clock.advance(1000);
    const current = await accept();
    old.fire("message", new Uint8Array([1]).buffer);
    old.fire("close");
    expect(messages).toHaveLength(0);
    expect(retries).toEqual([1000]);
    expect(link.status).toBe("connected");
    current.fire("message", new Uint8Array([2]).buffer);
    expect(messages).toHaveLength(1);
  });

  it("staying connected for healthyAfterMs resets the backoff to 1000 ms", async () => {
    const link = makeLink();
    link.start();
    await fail();
    for (const delay of [1000, 2000, 4000]) {
      await clock.advance(delay);
      await fail();
    }
    expect(retries).toEqual([1000, 2000, 4000, 8000]);
    await clock.advance(8000);
    const socket = await accept();
    await clock.advance(HEALTHY_AFTER_MS);
    socket.fire("close");
    expect(retries.at(-1)).toBe(1000);
  });

  it("a connection dropped before healthyAfterMs does not reset the backoff", async () => {
    const link = makeLink();
    link.start();
    await fail();
    await clock.advance(1000);
    await fail();
    await clock.advance(2000);
    const socket = await accept();
    await clock.advance(HEALTHY_AFTER_MS - 1);
    socket.fire("close");
    expect(retries).toEqual([1000, 2000, 4000]);
    // The healthy timer of the dropped socket must not reset the schedule later either.
    await clock.advance(4000);
    await fail();
    expect(retries).toEqual([1000, 2000, 4000, 8000]);
  });

  it("a connect that hangs times out after connectTimeoutMs and is retried; a late socket is closed", async () => {
    const link = makeLink();
    link.start();
    link.send(msg("m"));
    const hanging = attempts[0]!;
    await clock.advance(CONNECT_TIMEOUT_MS - 1);
    expect(retries).toEqual([]);
    await clock.advance(1);
    expect(retries).toEqual([1000]);
    expect(events.at(-1)).toBe(`reconnecting 1000 connect failed: timed out after ${CONNECT_TIMEOUT_MS} ms`);
    expect(link.status).toBe("reconnecting");

    const late = new FakeSocket();
    hanging.resolve(late);
    await settle();
    expect(late.closed).toEqual({ code: 1000, reason: "connect timeout" });
    expect(late.sent).toHaveLength(0);
    expect(link.connects).toBe(0);

    await clock.advance(1000);
    expect(attempts).toHaveLength(2);
    const socket = await accept();
    expect(socket.sentText).toEqual(["m"]);
  });

  it("a send that throws keeps the message queued for the next connection", async () => {
    const link = makeLink();
    link.start();
    const first = await accept();
    link.send(msg("a"));
    first.failSend = true;
    link.send(msg("b"));
    link.send(msg("c"));
    expect(first.sentText).toEqual(["a"]);
    expect(first.closed?.code).toBe(1011);
    expect(link.queued).toBe(2);
    expect(link.sent).toBe(1);
    expect(retries).toEqual([1000]);
    expect(events.at(-1)).toBe("reconnecting 1000 send failed");
    first.fire("close"); // the close event of the socket we gave up on changes nothing
    expect(retries).toEqual([1000]);

    await clock.advance(1000);
    const second = await accept();
    expect(second.sentText).toEqual(["b", "c"]);
    expect(link.sent).toBe(3);
    expect(link.queued).toBe(0);
  });
});

describe("stop()", () => {
  it("closes the socket with 1000 and the reason, clears the queue, and does not reconnect", async () => {
    const link = makeLink();
    link.start();
    const socket = await accept();
    link.send(msg("w"));
    socket.failSend = true;
    link.send(msg("x")); // stays queued, retry scheduled
    expect(link.queued).toBe(1);
    link.stop("last client left");
    expect(link.status).toBe("idle");
    expect(link.queued).toBe(0);
    await clock.advance(60_000);
    expect(attempts).toHaveLength(1);
    expect(clock.pending).toBe(0);
  });

  it("closes a connected socket and ignores its close event", async () => {
    const link = makeLink();
    link.start();
    const socket = await accept();
    link.send(msg("x"));
    link.stop("last client left");
    expect(socket.closed).toEqual({ code: 1000, reason: "last client left" });
    socket.fire("close");
    await clock.advance(60_000);
    expect(retries).toEqual([]);
    expect(attempts).toHaveLength(1);
    expect(link.status).toBe("idle");
    expect(clock.pending).toBe(0);
  });

  it("cancels a scheduled retry", async () => {
    const link = makeLink();
    link.start();
    const socket = await accept();
    socket.fire("close");
    expect(retries).toEqual([1000]);
    link.stop();
    await clock.advance(60_000);
    expect(attempts).toHaveLength(1);
  });

  it("a socket that arrives after stop() is closed, not adopted", async () => {
    const link = makeLink();
    link.start();
    link.send(msg("x"));
    link.stop();
    const socket = await accept();
    expect(socket.closed?.code).toBe(1000);
    expect(socket.sent).toHaveLength(0);
    expect(link.status).toBe("idle");
    expect(link.connects).toBe(0);
    expect(events).toEqual([]);
  });

  it("a connect failure after stop() schedules nothing", async () => {
    const link = makeLink();
    link.start();
    link.stop();
    await fail();
    await clock.advance(60_000);
    expect(retries).toEqual([]);
    expect(attempts).toHaveLength(1);
  });

  it("start() after stop() connects again with the messages sent since", async () => {
    const link = makeLink();
    link.start();
    const first = await accept();
    link.stop();
    link.send(msg("later"));
    link.start();
    await settle();
    expect(attempts).toHaveLength(2);
    const second = await accept();
    expect(first.sent).toHaveLength(0);
    expect(second.sentText).toEqual(["later"]);
    expect(link.connects).toBe(2);
  });
});

describe("upstream faults: the link carries on, reconnects on schedule and counts each case", () => {
  it("refused upgrades, closes and connect timeouts are each counted once, and reconnection follows the backoff", async () => {
    const link = makeLink();
    link.start();
    await fail("upgrade refused with HTTP 503");
    expect(faults).toEqual(["refused"]);
    await clock.advance(1000);
    const socket = await accept();
    socket.fire("close");
    socket.fire("error"); // the same loss, reported twice by the platform: counted once
    expect(faults).toEqual(["refused", "closed"]);
    await clock.advance(2000);
    expect(attempts).toHaveLength(3);
    await clock.advance(CONNECT_TIMEOUT_MS); // the upgrade hangs
    expect(faults).toEqual(["refused", "closed", "stalled"]);
    expect(retries).toEqual([1000, 2000, 4000]);
    await clock.advance(4000);
    const back = await accept();
    link.send(msg("after"));
    expect(back.sentText).toEqual(["after"]);
  });

  it("text frames are skipped and counted; garbage binary reaches the caller (which counts it as undecodable)", async () => {
    const link = makeLink();
    link.start();
    const socket = await accept();
    socket.fire("message", "{\"type\":\"hello\"}");
    socket.fire("message", new Uint8Array([0xff, 0x00, 0x13]).buffer);
    expect(faults).toEqual(["text"]);
    expect(messages.map((m) => m.byteLength)).toEqual([3]);
    expect(link.status).toBe("connected");
  });

  it("a connection that answers nothing for stallTimeoutMs after a send is replaced; answers keep it", async () => {
    const link = makeLink(16, 5_000);
    link.start();
    const socket = await accept();
    link.send(msg("a"));
    await clock.advance(4_000);
    socket.fire("message", new Uint8Array([8, 2]).buffer); // an answer
    link.send(msg("b"));
    await clock.advance(4_999);
    expect(faults).toEqual([]);
    await clock.advance(1);
    expect(faults).toEqual(["stalled"]);
    expect(socket.closed?.code).toBe(1011);
    expect(events.at(-1)).toMatch(/^reconnecting 1000 upstream stalled/);
    await clock.advance(1000);
    const next = await accept();
    link.send(msg("c"));
    expect(next.sentText).toEqual(["c"]);
  });

  it("an idle connection (nothing sent) is never called stalled", async () => {
    const link = makeLink(16, 5_000);
    link.start();
    await accept();
    await clock.advance(60_000);
    expect(faults).toEqual([]);
  });

  it("a message whose send() throws on a fresh connection is dropped and counted; the link is not torn down again and again", async () => {
    const link = makeLink();
    link.start();
    let socket = await accept();
    link.send(msg("ok-1"));
    // A poison message: every socket refuses it.
    const poison = msg("poison");
    const refuse = (s: FakeSocket) => {
      const send = s.send.bind(s);
      s.send = (data) => {
        if (new TextDecoder().decode(data as Uint8Array) === "poison") throw new Error("message too big");
        send(data);
      };
    };
    refuse(socket);
    link.send(poison);
    // Not fresh (ok-1 went out): the socket is given up on and the message kept for the next one.
    expect(socket.closed?.code).toBe(1011);
    expect(link.queued).toBe(1);
    await clock.advance(1000);
    const next = new FakeSocket();
    refuse(next);
    attempts.at(-1)!.resolve(next);
    await settle();
    // On the fresh connection it fails again: dropped and counted, the connection stays up.
    expect(faults).toEqual(["send_failed"]);
    expect(link.queued).toBe(0);
    expect(next.closed).toBeNull();
    link.send(msg("ok-2"));
    expect(next.sentText).toEqual(["ok-2"]);
    expect(attempts).toHaveLength(2);
    socket = next;
  });

  it("a fresh connection whose every send throws is given up on after a few drops, not dropping the whole queue", async () => {
    const link = makeLink();
    link.start();
    const socket = new FakeSocket();
    socket.failSend = true;
    for (const m of ["a", "b", "c", "d", "e"]) link.send(msg(m));
    attempts.at(-1)!.resolve(socket);
    await settle();
    expect(faults).toEqual(["send_failed", "send_failed"]);
    expect(socket.closed?.code).toBe(1011);
    expect(link.queued).toBe(3);
    await clock.advance(1000);
    const good = await accept();
    expect(good.sentText).toEqual(["c", "d", "e"]);
  });
});
