/**
 * The runtime's own cost per incoming WebSocket message, by socket API (issue 20: "compare the
 * hibernation API with plain accept() sockets"): two minimal Durable Objects in one workerd (through
 * Miniflare, so there is no wrangler dev proxy in the path), whose handlers only count:
 *   - hibernation API: ctx.acceptWebSocket(server) and a webSocketMessage() method (what
 *     src/session/participant-session.ts uses);
 *   - plain: server.accept() and a "message" event listener.
 * The object cannot hibernate while its upstream socket is open anyway (an outgoing WebSocket keeps
 * it in memory), so hibernation saves no duration here; the question is only which API costs less
 * per message.
 *
 * Method: P sockets send binary messages (640 B: a 20 ms 16 kHz frame; 3 840 B: a 20 ms 48 kHz
 * stereo frame) paced in real time at a fixed total rate (as clients send), and the same number in
 * a burst (the runtime then reads several per wake-up: what a busy isolate sees), then one text probe
 * each, answered once every message was handled.
 * CPU is the workerd process's (/proc), minus its idle CPU over the same time; the APIs alternate
 * within each round and the median over rounds is reported, so both see the same machine load.
 */
import { Miniflare } from "miniflare";
import WebSocket from "ws";
import { procStat, processGroup } from "../test/e2e/harness/proc.js";
import { median, pick, record, sleep, table } from "./harness.js";

const WORKER = `
export class Hibernating {
  constructor(ctx) { this.ctx = ctx; this.n = 0; }
  async fetch() {
    const [client, server] = Object.values(new WebSocketPair());
    this.ctx.acceptWebSocket(server);
    return new Response(null, { status: 101, webSocket: client });
  }
  webSocketMessage(ws, message) {
    this.n++;
    if (typeof message === "string") ws.send(String(this.n));
  }
}
export class Plain {
  constructor(ctx) { this.n = 0; }
  async fetch() {
    const [client, server] = Object.values(new WebSocketPair());
    server.accept();
    server.addEventListener("message", (e) => {
      this.n++;
      if (typeof e.data === "string") server.send(String(this.n));
    });
    return new Response(null, { status: 101, webSocket: client });
  }
}
export default {
  fetch(request, env) {
    const [, api, id] = new URL(request.url).pathname.split("/");
    const ns = api === "plain" ? env.PLAIN : env.HIB;
    return ns.get(ns.idFromName(id)).fetch(request);
  },
};
`;

const SOCKETS = pick(10, 2);
/** Messages per second over all sockets (a 20 ms audio frame per socket would be 50/s each). */
const RATE = pick(2_000, 400);
const SECONDS = pick(5, 1);
const ROUNDS = pick(3, 1);
const APIS = [
  { key: "hib", name: "hibernation API (ctx.acceptWebSocket + webSocketMessage) [ours]" },
  { key: "plain", name: "plain server.accept() + message listener" },
] as const;
const SIZES = [640, 3_840];
const MODES = ["paced", "burst"] as const;

const mf = new Miniflare({
  compatibilityDate: "2026-05-01",
  modules: true,
  script: WORKER,
  durableObjects: { HIB: "Hibernating", PLAIN: "Plain" },
  ...(process.env.BENCH_SOCKET_INSPECTOR ? { inspectorPort: 9333 } : {}),
});

function workerdCpuMs(): number {
  const group = procStat(process.pid)?.pgrp ?? process.pid;
  return processGroup(group).filter((p) => p.comm === "workerd").reduce((n, p) => n + p.cpuMs, 0);
}

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

/**
 * Sends at `rate` messages/s in total, spread evenly over the sockets and paced in real time as clients
 * send (a burst would let the runtime read many messages per wake-up and hide the per-message cost),
 * then a probe on each socket; resolves with the number sent once every probe was answered.
 */
async function paced(sockets: WebSocket[], payload: Uint8Array, rate: number, seconds: number): Promise<number> {
  const t0 = performance.now();
  const period = (1000 * sockets.length) / rate;
  const next = sockets.map((_, i) => t0 + (i * period) / sockets.length);
  let sent = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now();
      sockets.forEach((ws, i) => {
        while (next[i]! <= now) {
          ws.send(payload);
          sent++;
          next[i]! += period;
        }
      });
      if (now - t0 >= seconds * 1000) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  await Promise.all(
    sockets.map((ws) => {
      const answered = new Promise<void>((resolve) => ws.once("message", () => resolve()));
      ws.send("probe");
      return answered;
    }),
  );
  return sent;
}

/** The same messages as fast as the sockets take them: the runtime reads many per wake-up. */
async function burst(sockets: WebSocket[], payload: Uint8Array, total: number): Promise<number> {
  const perSocket = Math.ceil(total / sockets.length);
  await Promise.all(
    sockets.map(async (ws) => {
      for (let i = 0; i < perSocket; i++) {
        while (ws.bufferedAmount > 256 * 1024) await sleep(1);
        ws.send(payload);
      }
      const answered = new Promise<void>((resolve) => ws.once("message", () => resolve()));
      ws.send("probe");
      await answered;
    }),
  );
  return perSocket * sockets.length;
}

try {
  const base = (await mf.ready).toString().replace(/^http/, "ws");
  const sockets: Record<string, WebSocket[]> = {};
  for (const api of APIS) {
    sockets[api.key] = await Promise.all(Array.from({ length: SOCKETS }, (_, i) => open(`${base}${api.key}/s${i}`)));
  }
  // Idle CPU of workerd with every socket open.
  const idle0 = workerdCpuMs();
  const idleT0 = Date.now();
  await sleep(pick(3_000, 500));
  const idlePerMs = (workerdCpuMs() - idle0) / (Date.now() - idleT0);
  const samples: Record<string, number[]> = {};
  for (const size of SIZES) {
    const payload = new Uint8Array(size).fill(7);
    for (const api of APIS) await paced(sockets[api.key]!, payload, RATE, 0.5); // warm-up
    for (let r = 0; r < ROUNDS; r++) {
      for (const mode of MODES) {
        for (const api of APIS) {
          const c0 = workerdCpuMs();
          const t0 = Date.now();
          const list = sockets[api.key]!;
          const sent =
            mode === "paced" ? await paced(list, payload, RATE, SECONDS) : await burst(list, payload, RATE * SECONDS);
          const used = workerdCpuMs() - c0 - idlePerMs * (Date.now() - t0);
          (samples[`${api.key}/${size}/${mode}`] ??= []).push((used * 1000) / sent);
        }
      }
    }
  }
  for (const list of Object.values(sockets)) for (const ws of list) ws.close();
  const us = (key: string): number => median(samples[key]!);
  table(
    `workerd CPU per incoming WebSocket message, handler only counts (Miniflare, no proxy; ${SOCKETS} sockets; ` +
      `paced: ${RATE.toLocaleString("en-US")} msgs/s in real time; burst: as fast as taken; ` +
      `median of ${ROUNDS} rounds, ` +
      `idle CPU subtracted)`,
    ["socket API", ...SIZES.flatMap((s) => MODES.map((m) => `${s} B ${m}: µs/msg`))],
    APIS.map((api) => [api.name, ...SIZES.flatMap((s) => MODES.map((m) => us(`${api.key}/${s}/${m}`)))]),
  );
  for (const size of SIZES) {
    record({
      bench: "socket-api",
      measure: `workerd CPU per ${size} B WebSocket message paced in real time, hibernation API`,
      value: us(`hib/${size}/paced`),
      unit: "µs",
      baseline: { label: "plain accept()", value: us(`plain/${size}/paced`), unit: "µs" },
      detail: { samples, sockets: SOCKETS, rate: RATE, seconds: SECONDS, rounds: ROUNDS },
    });
  }
} finally {
  await mf.dispose();
}
