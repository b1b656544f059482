/**
 * Rooms and the directory (docs/DESIGN.md §12) inside workerd: who may open a watch socket, the
 * room a participant socket may name, and what an empty room answers.
 */
import { describe, expect, it } from "vitest";
import { ADMIN, admin, call, connect, waitUntil } from "./helpers";

const RUN = Date.now().toString(36);

async function token(body: Record<string, unknown>): Promise<string> {
  const res = await call("/v1/tokens", { method: "POST", headers: { ...ADMIN, "content-type": "application/json" }, body: JSON.stringify(body) });
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { token: string }).token;
}




async function watch(room: string, headers: Record<string, string> = ADMIN): Promise<{ events: any[]; ws: WebSocket }> {
  const res = await call(`/v1/rooms/${room}/watch`, { headers: { Upgrade: "websocket", ...headers } });
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  ws.accept();
  const events: any[] = [];
  ws.addEventListener("message", (e) => events.push(JSON.parse(e.data as string)));
  return { events, ws };
}


describe("rooms", () => {
  it("the watch socket takes the admin key or a watch token for its room, and nothing else", async () => {
    const room = `r-${RUN}-auth`;
    const upgrade = (headers: Record<string, string>) => call(`/v1/rooms/${room}/watch`, { headers: { Upgrade: "websocket", ...headers } });
    expect((await upgrade({})).status).toBe(401);
    expect((await upgrade({ Authorization: "Bearer wrong" })).status).toBe(401);
    const other = await token({ scope: "watch", room: `${room}-other` });
    expect((await upgrade({ Authorization: `Bearer ${other}` })).status).toBe(403);
    const stream = await token({ participant_id: "p", room, scope: "stream" });
    expect((await upgrade({ Authorization: `Bearer ${stream}` })).status).toBe(403);
    const own = await token({ scope: "watch", room });
    const res = await upgrade({ "Sec-WebSocket-Protocol": `deepfake-edge.v1, bearer.${own}` });
    expect(res.status).toBe(101);
    expect(res.headers.get("sec-websocket-protocol")).toBe("deepfake-edge.v1");
    res.webSocket!.accept();
    res.webSocket!.close(1000);
    // A watch token opens no participant socket.
    const onStream = await call(`/v1/participants/p/stream`, { headers: { Upgrade: "websocket", Authorization: `Bearer ${own}` } });
    expect(onStream.status).toBe(401);
    expect((await call(`/v1/rooms/${room}`)).status).toBe(401);
    expect((await call(`/v1/rooms/bad%20room`, { headers: ADMIN })).status).toBe(400);
  });

  it("?room= outside development mode on loopback is refused, and a client cannot set the internal room header", async () => {
    const pid = `r-${RUN}-q`;
    const t = await token({ participant_id: pid });
    const res = await call(`/v1/participants/${pid}/stream?room=elsewhere`, { headers: { Upgrade: "websocket", Authorization: `Bearer ${t}` } });
    expect(res.status).toBe(400);
    const s = await connect(pid, t);
    expect((await s.next("ready")).room_id).toBeNull();
    s.ws.close(1000);
  });

  it("an unknown room answers 404; a watcher of a room nobody joined yet gets an empty snapshot; the directory lists none", async () => {
    const room = `r-${RUN}-empty`;
    expect((await admin(`/v1/rooms/${room}`)).status).toBe(404);
    const watcher = await watch(room);
    await waitUntil(async () => watcher.events.length > 0);
    expect(watcher.events[0]).toEqual({ type: "room", room_id: room, level: "clear", participants: [] });
    const listed = (await (await admin("/v1/rooms")).json()) as { rooms: Array<{ room_id: string }> };
    expect(listed.rooms.some((r) => r.room_id === room)).toBe(false);
    watcher.ws.close(1000);
  });
});
