/**
 * `client.check()` (docs/DESIGN.md §13) over a fake socket: it sends a Check message, resolves with its own
 * check's check_completed, joins a running check, rejects on a refusal or a lost connection, and
 * gives up after the window plus its grace.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { CHECK_ANSWER_GRACE_MS, CheckError } from "../../src/client/checks";
import { FakeClock, connectedClient, fakeServer } from "./client-fakes";

let clock: FakeClock;
let server: ReturnType<typeof fakeServer>;

const started = (checkId: string, untilMs = Date.now() + 10_000) => ({ type: "check_started", check_id: checkId, participant_id: "p1", room_id: null, until_ms: untilMs });
const completed = (checkId: string, outcome = "answered") => ({
  type: "check_completed",
  id: `evt_${checkId}`,
  check_id: checkId,
  participant_id: "p1",
  room_id: null,
  level: "clear",
  outcome,
  results: outcome === "no_media" ? 0 : 2,
  tracks: outcome === "no_media" ? [] : [{ track_id: "camera", level: "clear" }],
  started_ms: 1,
  completed_ms: 2,
  simulated: true,
});

beforeEach(() => {
  clock = new FakeClock();
  server = fakeServer(clock);
});

describe("client.check()", () => {
  it("sends a Check with the window and resolves with its own check's check_completed", async () => {
    const client = await connectedClient(server, clock);
    const seen: string[] = [];
    client.on("check_started", (e) => seen.push(`started ${e.check_id}`));
    client.on("check_completed", (e) => seen.push(`completed ${e.check_id} ${e.outcome}`));
    const result = client.check(20);
    const socket = server.last();
    expect(socket.sent.filter((m) => m.payload === "check").map((m) => m.check?.durationS)).toEqual([20]);
    socket.push(started("chk_a"));
    socket.push(completed("chk_other")); // not ours: ignored by the promise
    socket.push(completed("chk_a"));
    await expect(result).resolves.toMatchObject({ type: "check_completed", check_id: "chk_a", outcome: "answered", tracks: [{ track_id: "camera", level: "clear" }] });
    expect(seen).toEqual(["started chk_a", "completed chk_other answered", "completed chk_a answered"]);
  });

  it("two calls during one check both resolve with it (the second joined)", async () => {
    const client = await connectedClient(server, clock);
    const first = client.check();
    const socket = server.last();
    socket.push(started("chk_a"));
    const second = client.check();
    socket.push(started("chk_a")); // the service answers a join with the running check
    socket.push(completed("chk_a", "no_media"));
    expect((await first).check_id).toBe("chk_a");
    expect((await second).outcome).toBe("no_media");
  });

  it("a refusal rejects with the service's code and message", async () => {
    const client = await connectedClient(server, clock);
    const result = client.check(5);
    server.last().push({ type: "error", code: "check_rate_limited", message: "at most 10 checks per participant every 600 s; the next one can start in 42 s" });
    const error = await result.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CheckError);
    expect(error).toMatchObject({ code: "check_rate_limited", message: expect.stringMatching(/next one can start in 42 s/) });
  });

  it("rejects at once a window over 60 s, or when not connected", async () => {
    const client = await connectedClient(server, clock);
    await expect(client.check(61)).rejects.toThrow(RangeError);
    server.last().drop(1006);
    await expect(client.check()).rejects.toMatchObject({ code: "not_sent" });
  });

  it("a started check whose result never comes rejects after the window plus the grace; close() rejects at once", async () => {
    const client = await connectedClient(server, clock);
    const lost = client.check(10);
    server.last().push(started("chk_a", Date.now() + 10_000));
    let settled = false;
    lost.catch(() => (settled = true));
    await clock.advance(10_000 + CHECK_ANSWER_GRACE_MS - 100);
    expect(settled).toBe(false);
    await clock.advance(200);
    await expect(lost).rejects.toMatchObject({ code: "timeout" });

    const pending = client.check();
    client.close();
    await expect(pending).rejects.toMatchObject({ code: "closed" });
  });
});
