/**
 * Rejected auth: an HTTP 401 or 403 on the upgrade (as `ws` reports it) or an already expired token ends
 * the client with a typed AuthError and no reconnect loop; other refusals are retried. Browsers do
 * not expose the status, so the SDK can ask with a plain GET (probeAuth). Also where the token goes.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DeepfakeEdgeClient } from "../../src/client/client";
import type { StateChange } from "../../src/client/options";
import { AuthError, browserSocketFactory, nodeSocketFactory, streamUrl, tokenClaims } from "../../src/client/socket";
import { FakeClock, fakeServer, fakeToken } from "./client-fakes";

let clock: FakeClock;
let server: ReturnType<typeof fakeServer>;

function makeClient(extra: Partial<ConstructorParameters<typeof DeepfakeEdgeClient>[0]> = {}): DeepfakeEdgeClient {
  return new DeepfakeEdgeClient({
    baseUrl: "http://edge.test",
    participantId: "alice",
    socketFactory: server.factory,
    timers: clock,
    random: () => 0,
    probeAuth: false,
    ...extra,
  });
}

beforeEach(() => {
  clock = new FakeClock();
  server = fakeServer(clock);
});
afterEach(() => {
  vi.unstubAllGlobals();
});

describe("auth errors", () => {
  const finalRefusal = "a %i on the upgrade rejects connect() with AuthError, emits auth_error, closes, and never retries";
  it.each([401, 403])(finalRefusal, async (status) => {
    const client = makeClient({ token: "bad.token.value" });
    const authErrors: AuthError[] = [];
    const states: StateChange[] = [];
    client.on("auth_error", (e) => authErrors.push(e));
    client.on("state", (s) => states.push(s));
    const ready = client.connect();
    await clock.advance(0);
    server.last().refuse(status);
    const error = await ready.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthError);
    expect(error).toMatchObject({ name: "AuthError", status });
    expect(authErrors).toHaveLength(1);
    expect(states.at(-1)).toMatchObject({ state: "closed", error });
    await clock.advance(120_000);
    expect(server.sockets).toHaveLength(1);
    expect(clock.pending).toBe(0);
  });

  it("a 401 while reconnecting (token expired or revoked mid-session) also stops the client", async () => {
    const client = makeClient({ token: "t" });
    const authErrors: AuthError[] = [];
    client.on("auth_error", (e) => authErrors.push(e));
    void client.connect();
    await clock.advance(0);
    server.last().accept();
    server.last().drop(1006);
    await clock.advance(1_000);
    server.last().refuse(401);
    await clock.advance(60_000);
    expect(authErrors).toHaveLength(1);
    expect(client.state).toBe("closed");
    expect(server.sockets).toHaveLength(2);
  });

  it("refuses a token whose exp has passed without opening a socket", async () => {
    const expired = fakeToken({ sub: "alice", exp: Math.floor(Date.now() / 1000) - 5 });
    const client = makeClient({ token: expired });
    const error = await client.connect().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthError);
    expect((error as AuthError).status).toBe(0);
    expect((error as AuthError).message).toMatch(/expired/);
    expect(server.sockets).toHaveLength(0);
  });

  it("other refusals (503, 429) and network failures are retried with backoff", async () => {
    const client = makeClient();
    void client.connect();
    await clock.advance(0);
    server.last().refuse(503);
    await clock.advance(1_000);
    server.last().refuse(429);
    await clock.advance(2_000);
    server.last().fail();
    await clock.advance(4_000);
    expect(server.sockets).toHaveLength(4);
    expect(client.state).toBe("connecting");
  });

  const probed = "in a browser (no status) probes with a GET: %i means AuthError, anything else means retry";
  it.each([401, 403])(probed, async (refusal) => {
    const statuses = [426, refusal];
    const probes: Array<{ url: string; auth: string | null }> = [];
    vi.stubGlobal("fetch", async (url: string, init: { headers: Record<string, string> }) => {
      probes.push({ url, auth: init.headers.authorization ?? null });
      return new Response(JSON.stringify({ error: "x" }), { status: statuses.shift() ?? 500 });
    });
    const client = makeClient({ token: "tok", probeAuth: true });
    const ready = client.connect();
    await clock.advance(0);
    server.last().fail();
    await clock.advance(1_000); // 426: the probe was inconclusive, so the client retried
    expect(server.sockets).toHaveLength(2);
    server.last().fail();
    await expect(ready).rejects.toMatchObject({ name: "AuthError", status: refusal });
    expect(probes).toEqual([
      { url: "http://edge.test/v1/participants/alice/stream", auth: "Bearer tok" },
      { url: "http://edge.test/v1/participants/alice/stream", auth: "Bearer tok" },
    ]);
  });
});

describe("where the token goes", () => {
  it("browsers: the subprotocol bearer.<token> next to deepfake-edge.v1; Node (ws): Authorization header; never the URL", () => {
    const opened: Array<{ url: string; options?: unknown }> = [];
    class Recorder {
      constructor(url: string, options?: unknown) {
        opened.push({ url, options });
      }
    }
    const url = streamUrl("https://edge.example.com/", "team:alice.1");
    expect(url).toBe("wss://edge.example.com/v1/participants/team%3Aalice.1/stream");
    browserSocketFactory(Recorder)(url, "a.b.c");
    nodeSocketFactory(Recorder)(url, "a.b.c");
    nodeSocketFactory(Recorder)(url, undefined);
    browserSocketFactory(Recorder)(url, undefined);
    expect(opened[0]).toEqual({ url, options: ["deepfake-edge.v1", "bearer.a.b.c"] });
    expect(opened[1]).toEqual({ url, options: { headers: { authorization: "Bearer a.b.c" }, maxPayload: 1_048_576 } });
    expect(opened[2]).toEqual({ url, options: { headers: {}, maxPayload: 1_048_576 } });
    expect(opened[3]).toEqual({ url, options: ["deepfake-edge.v1"] });
    for (const { url: opened_ } of opened) expect(opened_).not.toContain("token");
  });

  it("reads sub and exp from a JWT, and nothing from garbage", () => {
    expect(tokenClaims(fakeToken({ sub: "alice", exp: 123, extra: 1 }))).toEqual({ sub: "alice", exp: 123 });
    expect(tokenClaims("not-a-jwt")).toBeNull();
    expect(tokenClaims("a.!!!.c")).toBeNull();
  });
});
