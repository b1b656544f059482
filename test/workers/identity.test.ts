import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";

// The object learns its participant from ctx.id.name (no identity header): the pinned workerd
// must give an object addressed with idFromName its name, in the constructor and afterwards.
describe("Durable Object identity", () => {
  it("ctx.id.name is the name the object was addressed by", async () => {
    for (const name of ["alice", "bob.2:x-y_z"]) {
      const stub = env.PARTICIPANT_SESSION.get(env.PARTICIPANT_SESSION.idFromName(name));
      expect(await runInDurableObject(stub, (_instance, state) => state.id.name)).toBe(name);
      const sim = env.UPSTREAM_SIMULATOR.get(env.UPSTREAM_SIMULATOR.idFromName(name));
      expect(await runInDurableObject(sim, (_instance, state) => state.id.name)).toBe(name);
    }
  });
});

describe("management is typed RPC on the stub", () => {
  it("an unknown participant answers 404 from every management method and stores nothing", async () => {
    const stub = env.PARTICIPANT_SESSION.get(env.PARTICIPANT_SESSION.idFromName("rpc-unknown"));
    const notFound = { ok: false, status: 404, error: "unknown_participant" };
    expect(await stub.snapshot()).toMatchObject(notFound);
    expect(await stub.history({ after: null, limit: 10 })).toMatchObject(notFound);
    expect(await stub.webhooks({ status: undefined, afterSeq: 0, limit: 10 })).toMatchObject(notFound);
    expect(await stub.end()).toMatchObject(notFound);
    const tables = await runInDurableObject(stub, (_instance, state) => state.storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table'").toArray());
    expect(tables.filter((t) => !String(t.name).startsWith("_cf"))).toEqual([]);
  });

  it("fetch only upgrades sockets: any other path is 404, a plain GET is 426", async () => {
    const stub = env.PARTICIPANT_SESSION.get(env.PARTICIPANT_SESSION.idFromName("rpc-fetch"));
    expect((await stub.fetch("https://object/v1/participants/rpc-fetch/snapshot")).status).toBe(404);
    expect((await stub.fetch("https://object/v1/participants/rpc-fetch/stream")).status).toBe(426);
  });

  it("the simulator is steered and read over RPC", async () => {
    const sim = env.UPSTREAM_SIMULATOR.get(env.UPSTREAM_SIMULATOR.idFromName("rpc-sim"));
    expect(await sim.steer("alert")).toMatchObject({ level: "alert", jpeg_frames: 0 });
    expect(await sim.stats()).toMatchObject({ level: "alert" });
  });
});
