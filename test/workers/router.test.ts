import { describe, expect, it } from "vitest";
import { ADMIN, call, mintToken } from "./helpers.js";

describe("router", () => {
  it("answers /healthz with the mode", async () => {
    const res = await call("/healthz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok", dev_mode: true, simulated: true });
  });

  it("rejects invalid participant ids with 400", async () => {
    for (const id of ["bad%20id", "a".repeat(129), "semi;colon"]) {
      const res = await call(`/v1/participants/${id}/stream`, { headers: { Upgrade: "websocket" } });
      expect(res.status, id).toBe(400);
      expect(((await res.json()) as { error: string }).error).toBe("bad_participant_id");
    }
  });

  it("checks the token before the upgrade, so browsers can tell a rejected token (401) from a plain GET (426)", async () => {
    expect((await call("/v1/participants/p1/stream")).status).toBe(401);
    const token = await mintToken("p1");
    expect((await call(`/v1/participants/p1/stream?token=${token}`)).status).toBe(426);
  });

  it("requires a valid connect token for the participant when a secret is configured", async () => {
    const noToken = await call("/v1/participants/p1/stream", { headers: { Upgrade: "websocket" } });
    expect(noToken.status).toBe(401);
    const other = await mintToken("someone-else");
    const wrong = await call("/v1/participants/p1/stream", { headers: { Upgrade: "websocket", Authorization: `Bearer ${other}` } });
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { message: string }).message).toContain("another participant");
    const good = await mintToken("p1");
    const ok = await call(`/v1/participants/p1/stream?token=${good}`, { headers: { Upgrade: "websocket" } });
    expect(ok.status).toBe(101);
    ok.webSocket!.accept();
    ok.webSocket!.close(1000, "done");
  });

  it("mints tokens only with the admin key and validates the body", async () => {
    const noKey = await call("/v1/tokens", { method: "POST", body: JSON.stringify({ participant_id: "p1" }) });
    expect(noKey.status).toBe(401);
    const badTtl = await call("/v1/tokens", { method: "POST", headers: ADMIN, body: JSON.stringify({ participant_id: "p1", ttl_s: -5 }) });
    expect(badTtl.status).toBe(400);
    const badJson = await call("/v1/tokens", { method: "POST", headers: ADMIN, body: "{" });
    expect(badJson.status).toBe(400);
    const ok = await call("/v1/tokens", { method: "POST", headers: ADMIN, body: JSON.stringify({ participant_id: "p1", ttl_s: 60 }) });
    const body = (await ok.json()) as { token: string; expires_at: number };
    expect(body.token.split(".")).toHaveLength(3);
    expect(body.expires_at - Math.floor(Date.now() / 1000)).toBeGreaterThanOrEqual(59);
  });

  it("validates simulator steering", async () => {
    const res = await call("/v1/dev/simulator/p1", { method: "POST", headers: ADMIN, body: JSON.stringify({ level: "panic" }) });
    expect(res.status).toBe(400);
  });

  it("returns JSON 404 for unknown routes", async () => {
    const res = await call("/nope");
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: string }).error).toBe("not_found");
  });
});
