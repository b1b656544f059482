/**
 * A live stack for the benchmarks, all on 127.0.0.1: a real `wrangler dev` in production mode
 * (DEV_MODE off, every secret set) pointed at the fake Dataspike API, a Standard Webhooks sink, and
 * helpers to connect participants, read their snapshots with the admin key, and watch workerd's
 * memory and CPU through /proc. Built from the end-to-end harness (test/e2e/harness/).
 */
import { randomBytes } from "node:crypto";
import { existsSync, statfsSync } from "node:fs";
import { loadavg } from "node:os";
import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import { connectParticipant, mintConnectToken, type ParticipantClient } from "../../test/e2e/harness/client.js";
import { FakeUpstream, productionVars } from "../../test/e2e/harness/fake-upstream.js";
import { cmdline, rssBytes, runQueueWaitMs, workerdProcesses } from "../../test/e2e/harness/proc.js";
import { WebhookSink } from "../../test/e2e/harness/webhook-sink.js";
import { startWranglerDev, type WranglerDev } from "../../test/e2e/harness/wrangler-dev.js";
import type { CounterName } from "../../src/session/counters.js";

const API_KEY = "bench-api-key";
export const ADMIN_KEY = "bench-admin-key-0123456789";

export interface Snapshot {
  level: string;
  video_fps: number;
  upstream: { status: string; queued: number };
  counters: Record<CounterName, number>;
  webhooks: { pending: number; delivered: number; failed: number };
}

/**
 * wrangler dev runs two workerd processes: a proxy that listens on the dev port and forwards every
 * request and WebSocket message, and the runtime that runs the Worker and its Durable Objects (the
 * one with the inspector). Only the runtime exists on Cloudflare.
 */
export interface WorkerdProcess {
  pid: number;
  role: "runtime" | "proxy";
  rssBytes: number;
  cpuMs: number;
  /** Run-queue delay of its threads so far (CPU it wanted while other processes had the cores). */
  waitMs: number;
}

export interface WorkerdReading {
  /** The Worker's runtime process (null if not found). */
  runtime: WorkerdProcess | null;
  proxy: WorkerdProcess | null;
  /** Sums over every workerd process of this wrangler dev. */
  rssBytes: number;
  cpuMs: number;
}

export interface LiveStack {
  fake: FakeUpstream;
  sink: WebhookSink | null;
  dev: WranglerDev;
  url: string;
  /**
   * Mints a connect token and opens the participant's stream socket, without permessage-deflate
   * unless asked (deflating raw frames costs the client more CPU than the service spends on them).
   */
  connect(participantId: string, options?: { deflate?: boolean; token?: string }): Promise<ParticipantClient>;
  /** Mints a connect token for the participant (a client that holds one can reconnect with it, but not mint). */
  token(participantId: string): Promise<string>;
  snapshot(participantId: string): Promise<Snapshot>;
  /** The workerd process(es) of this wrangler dev: total RSS and CPU time so far. */
  workerd(): WorkerdReading;
  stop(): Promise<void>;
}

export interface LiveOptions {
  /** Extra vars (VIDEO_NORMAL_FPS, ...). */
  vars?: Record<string, string>;
  /** Deliver every transition to a webhook sink (WEBHOOK_URLS, WEBHOOK_SECRET). */
  webhooks?: boolean;
  /**
   * Where wrangler dev keeps the objects' SQLite files: in memory (tmpfs, /dev/shm) by default, or on
   * the disk. On a disk the kernel's periodic writeback can make a commit wait hundreds of ms, and the
   * object's output gate holds every event behind its commit: a stall of the local disk, which
   * Cloudflare's storage does not have (README, Performance). "disk" measures it.
   */
  storage?: "memory" | "disk";
}

/** The free space tmpfs needs for the largest steps' SQLite files (400 participants: a few hundred MB). */
const MEMORY_STORAGE_MIN_BYTES = 1024 ** 3;

/**
 * tmpfs for wrangler dev's storage when the machine has one (Linux) with room to spare, else the OS
 * temp dir (a container's /dev/shm is often 64 MB: full, it would fail the objects' writes).
 */
export const MEMORY_STORAGE_DIR = memoryStorageDir();

function memoryStorageDir(): string | undefined {
  if (!existsSync("/dev/shm")) return undefined;
  const { bavail, bsize } = statfsSync("/dev/shm");
  if (bavail * bsize >= MEMORY_STORAGE_MIN_BYTES) return "/dev/shm";
  console.log("  (/dev/shm has under 1 GiB free: wrangler dev's storage goes to the disk)");
  return undefined;
}

export async function startLive(options: LiveOptions = {}): Promise<LiveStack> {
  const fake = await FakeUpstream.start({ expectedKey: API_KEY, decodeJpegs: false });
  const secret = `whsec_${randomBytes(32).toString("base64")}`;
  const sink = options.webhooks ? await WebhookSink.start({ secret }) : null;
  const hooks: Record<string, string> = sink ? { WEBHOOK_URLS: sink.url, WEBHOOK_SECRET: secret, WEBHOOK_RETRY_SCHEDULE: "1s,2s,5s" } : {};
  let dev: WranglerDev;
  try {
    dev = await startWranglerDev({
      vars: productionVars(fake, { apiKey: API_KEY, adminKey: ADMIN_KEY }, { ...hooks, ...options.vars }),
      persistUnder: options.storage === "disk" ? undefined : MEMORY_STORAGE_DIR,
    });
  } catch (err) {
    await fake.close();
    await sink?.close();
    throw err;
  }
  const url = dev.url;
  return {
    fake,
    sink,
    dev,
    url,
    async connect(participantId, connectOptions = {}) {
      const token = connectOptions.token ?? (await mintConnectToken(url, ADMIN_KEY, participantId)).token;
      return connectParticipant(url, participantId, token, { perMessageDeflate: connectOptions.deflate ?? false });
    },
    async token(participantId) {
      return (await mintConnectToken(url, ADMIN_KEY, participantId)).token;
    },
    async snapshot(participantId) {
      const res = await fetch(`${url}/v1/participants/${encodeURIComponent(participantId)}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`GET /v1/participants/${participantId} answered ${res.status}: ${text.slice(0, 300)}`);
      return JSON.parse(text) as Snapshot;
    },
    workerd() {
      const procs: WorkerdProcess[] = workerdProcesses(dev.pid).map((p) => ({
        pid: p.pid,
        role: cmdline(p.pid).some((a) => a.startsWith("--inspector-addr")) ? "runtime" : "proxy",
        rssBytes: rssBytes(p.pid) ?? 0,
        cpuMs: p.cpuMs,
        waitMs: runQueueWaitMs(p.pid),
      }));
      return {
        runtime: procs.find((p) => p.role === "runtime") ?? null,
        proxy: procs.find((p) => p.role === "proxy") ?? null,
        rssBytes: procs.reduce((n, p) => n + p.rssBytes, 0),
        cpuMs: procs.reduce((n, p) => n + p.cpuMs, 0),
      };
    },
    async stop() {
      await dev.stop();
      await fake.close();
      await sink?.close();
    },
  };
}

/** Resolves once `predicate()` holds, polling every `everyMs`; false after `timeoutMs`. */
export async function until(predicate: () => boolean, timeoutMs: number, everyMs = 10): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return true;
}

/** The bench process's own event-loop delay while measuring: it inflates every latency measured here. */
export function loopDelay(): { stop(): { p99Ms: number; maxMs: number } } {
  const h: IntervalHistogram = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  return {
    stop() {
      h.disable();
      return { p99Ms: h.percentile(99) / 1e6, maxMs: h.max / 1e6 };
    },
  };
}

/** Samples the runtime workerd's RSS every `everyMs` while running; `stop()` returns the peak. */
export function rssSampler(stack: LiveStack, everyMs = 1_000): { stop(): number } {
  const now = (): number => stack.workerd().runtime?.rssBytes ?? 0;
  let peak = now();
  const timer = setInterval(() => (peak = Math.max(peak, now())), everyMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, now());
    },
  };
}

export interface CpuUse {
  runtimeMs: number;
  proxyMs: number;
  benchMs: number;
  /** Run-queue delay of the runtime workerd and of this bench process over the window. */
  runtimeWaitMs: number;
  benchWaitMs: number;
  wallMs: number;
  /** 1-minute load average at the end of the window. */
  loadavg1: number;
}

/** CPU used (and waited for) by the runtime workerd, the proxy workerd and this bench process since `cpuMeter()`. */
export function cpuMeter(stack: LiveStack): { read(): CpuUse } {
  const w0 = stack.workerd();
  const b0 = process.cpuUsage();
  const bw0 = runQueueWaitMs(process.pid);
  const t0 = Date.now();
  return {
    read() {
      const w = stack.workerd();
      const b = process.cpuUsage(b0);
      return {
        runtimeMs: (w.runtime?.cpuMs ?? 0) - (w0.runtime?.cpuMs ?? 0),
        proxyMs: (w.proxy?.cpuMs ?? 0) - (w0.proxy?.cpuMs ?? 0),
        benchMs: (b.user + b.system) / 1000,
        runtimeWaitMs: (w.runtime?.waitMs ?? 0) - (w0.runtime?.waitMs ?? 0),
        benchWaitMs: runQueueWaitMs(process.pid) - bw0,
        wallMs: Date.now() - t0,
        loadavg1: loadavg()[0]!,
      };
    },
  };
}

/** "runtime 41 %, proxy 12 %, bench 30 %": CPU share of one core of the runtime, the proxy and the bench process. */
export function cpuShares(c: CpuUse): string {
  const pct = (ms: number): string => `${Math.round((ms / c.wallMs) * 100)} %`;
  return `runtime ${pct(c.runtimeMs)}, proxy ${pct(c.proxyMs)}, bench ${pct(c.benchMs)}`;
}

/** "runtime 9 %, bench 4 %": share of the wall time each spent runnable but waiting for a core. */
export function waitShares(c: CpuUse): string {
  const pct = (ms: number): string => `${Math.round((ms / c.wallMs) * 100)} %`;
  return `runtime ${pct(c.runtimeWaitMs)}, bench ${pct(c.benchWaitMs)} (load ${c.loadavg1.toFixed(1)})`;
}

export const MB = 1024 * 1024;
