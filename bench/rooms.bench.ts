/**
 * Rooms (docs/DESIGN.md §12): latency from the upstream ResultEvent to the room's watch socket, with 50
 * participants in 10 rooms and one moderator socket per room, through a real `wrangler dev` in
 * production mode with the fake Dataspike API. Baseline, in the same run: the same transitions
 * reaching the participant's own client socket (the room is told after that, in the background).
 *
 * Method: every participant opens its stream with a token naming its room and sends one small JPEG
 * (so the fake upstream knows its socket); each room has one watch socket (admin key). One result at
 * a time goes to a random participant, its levels cycling suspicious -> alert -> clear (each one a
 * transition); t0 just before the fake upstream sends, t1 when that participant's client has the
 * deepfake_alert, t2 when its room's watcher has the same event. A random gap of 10-50 ms follows.
 */
import { WebSocket } from "ws";
import { ParticipantClient, connectParticipant } from "../test/e2e/harness/client.js";
import type { ResultTypeName } from "../test/e2e/harness/fake-upstream.js";
import { distribution, pick, record, sleep, table } from "./harness.js";
import { ADMIN_KEY, startLive, until } from "./lib/live.js";
import { framePixels, helloMessage, videoMessage } from "./lib/media.js";

const ROOMS = 10;
const PER_ROOM = 5;
const TRANSITIONS = pick(300, 10);
const LEVELS: ResultTypeName[] = ["SUSPICIOUS", "ALERT", "CLEAR"];
const RUN = Date.now().toString(36);

const stack = await startLive();
try {
  const api = (path: string, body?: unknown) =>
    fetch(`${stack.url}${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }).then((r) => r.json() as Promise<any>);
  const rooms = Array.from({ length: ROOMS }, (_, r) => `bench-room-${r}-${RUN}`);
  const watchers = new Map<string, ParticipantClient>();
  for (const room of rooms) {
    const socket = new WebSocket(`${stack.url.replace(/^http/, "ws")}/v1/rooms/${room}/watch`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    const watcher = new ParticipantClient(socket);
    await new Promise((resolve, reject) => (socket.once("open", resolve), socket.once("error", reject)));
    watchers.set(room, watcher);
  }
  const frame = videoMessage({ format: "JPEG", width: 64, height: 48, data: await framePixels("JPEG", 64, 48, 1) });
  const participants: Array<{ pid: string; room: string; client: ParticipantClient; step: number }> = [];
  for (const room of rooms) {
    for (let p = 0; p < PER_ROOM; p++) {
      const pid = `${room}-p${p}`;
      const { token } = await api("/v1/tokens", { participant_id: pid, room });
      const client = await connectParticipant(stack.url, pid, token, { perMessageDeflate: false });
      client.sendRaw(helloMessage("bench-rooms"));
      client.sendRaw(frame);
      participants.push({ pid, room, client, step: 0 });
    }
  }
  for (const { pid } of participants) {
    if (!(await until(() => stack.fake.knows(pid), 30_000))) throw new Error(`${pid}: its frame never reached the upstream`);
  }
  const clientMs: number[] = [];
  const watchMs: number[] = [];
  let lost = 0;
  for (let k = 0; k < TRANSITIONS; k++) {
    const p = participants[Math.floor(Math.random() * participants.length)]!;
    const tag = `bench-rooms-${k}`;
    const watcher = watchers.get(p.room)!;
    const [fromClient, fromWatch] = [p.client.events.length, watcher.events.length];
    const t0 = Date.now();
    if (!stack.fake.sendResultTo(LEVELS[p.step++ % LEVELS.length]!, p.pid, "camera", tag)) throw new Error(`${p.pid}: upstream gone`);
    let t1: number | undefined;
    let t2: number | undefined;
    const isIt = (e: { event: Record<string, unknown> }) => e.event.type === "deepfake_alert" && e.event.message === tag;
    await until(() => {
      t1 ??= p.client.events.slice(fromClient).find(isIt)?.atMs;
      t2 ??= watcher.events.slice(fromWatch).find(isIt)?.atMs;
      return t1 !== undefined && t2 !== undefined;
    }, 10_000, 1);
    if (t1 === undefined || t2 === undefined) lost++;
    if (t1 !== undefined) clientMs.push(t1 - t0);
    if (t2 !== undefined) watchMs.push(t2 - t0);
    await sleep(10 + Math.random() * 40);
  }
  // Every room is listed with its participants connected.
  const listed = (await api("/v1/rooms")).rooms as Array<{ room_id: string; connected: number }>;
  const complete = rooms.every((r) => listed.find((l) => l.room_id === r)?.connected === PER_ROOM);
  const client = distribution(clientMs);
  const watch = distribution(watchMs);
  table(
    `ResultEvent -> participant's client / -> its room's watch socket, ${participants.length} participants in ${ROOMS} rooms, ` +
      `${TRANSITIONS} transitions (ms)`,
    ["socket", "p50", "p99", "max", "lost"],
    [
      ["participant's client (baseline)", client.p50, client.p99, client.max, lost],
      ["room's watch socket", watch.p50, watch.p99, watch.max, lost],
    ],
  );
  record({
    bench: "rooms",
    measure: `result -> watch socket p99, ${participants.length} participants in ${ROOMS} rooms`,
    value: watch.p99,
    unit: "ms",
    baseline: { label: "participant's own client p99", value: client.p99, unit: "ms" },
    goal: "every transition reaches its room's watcher; the directory lists every room",
    met: lost === 0 && complete,
    detail: { client, watch, lost, directory_complete: complete },
  });
  const baseline = { label: "participant's own client p50", value: client.p50, unit: "ms" };
  record({ bench: "rooms", measure: "result -> watch socket p50", value: watch.p50, unit: "ms", baseline });
  for (const p of participants) await p.client.close();
  for (const w of watchers.values()) await w.close();
} finally {
  await stack.stop();
}
