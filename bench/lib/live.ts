/**
 * A live stack for the benchmarks, all on 127.0.0.1: a real `wrangler dev` in production mode
 * (DEV_MODE off, every secret set) pointed at the fake Dataspike API, a Standard Webhooks sink, and
 * helpers to connect participants, read their snapshots with the admin key, and watch workerd's
 * memory and CPU through /proc. Built from the end-to-end harness (test/e2e/harness/).
 */
import { randomBytes } from "node:crypto";
import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import { connectParticipant, mintConnectToken, type ParticipantClient } from "../../test/e2e/harness/client.js";
import { FakeUpstream, productionVars } from "../../test/e2e/harness/fake-upstream.js";
import { rssBytes, workerdProcesses } from "../../test/e2e/harness/proc.js";
import { WebhookSink } from "../../test/e2e/harness/webhook-sink.js";
import { startWranglerDev, type WranglerDev } from "../../test/e2e/harness/wrangler-dev.js";
import type { CounterName } from "../../src/session/counters.js";

const API_KEY = "bench-api-key";
const ADMIN_KEY = "bench-admin-key";

export interface Snapshot {
  level: string;
  video_fps: number;
  upstream: { status: string; queued: number };
  counters: Record<CounterName, number>;
  webhooks: { pending: number; delivered: number; failed: number };
}

export interface WorkerdReading {
  pids: number[];
  rssBytes: number;
  cpuMs: number;
}

export interface LiveStack {
  fake: FakeUpstream;
  sink: WebhookSink | null;
  dev: WranglerDev;
  url: string;
  /** Mints a connect token and opens the participant's stream socket. */
  connect(participantId: string): Promise<ParticipantClient>;
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
}

export async function startLive(options: LiveOptions = {}): Promise<LiveStack> {
  const fake = await FakeUpstream.start({ expectedKey: API_KEY, decodeJpegs: false });
  const secret = `whsec_${randomBytes(32).toString("base64")}`;
  const sink = options.webhooks ? await WebhookSink.start({ secret }) : null;
  const hooks: Record<string, string> = sink ? { WEBHOOK_URLS: sink.url, WEBHOOK_SECRET: secret, WEBHOOK_RETRY_SCHEDULE: "1s,2s,5s" } : {};
  let dev: WranglerDev;
  try {
    dev = await startWranglerDev({ vars: productionVars(fake, { apiKey: API_KEY, adminKey: ADMIN_KEY }, { ...hooks, ...options.vars }) });
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
    async connect(participantId) {
      const { token } = await mintConnectToken(url, ADMIN_KEY, participantId);
      return connectParticipant(url, participantId, token);
    },
    async snapshot(participantId) {
      const res = await fetch(`${url}/v1/participants/${encodeURIComponent(participantId)}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`GET /v1/participants/${participantId} answered ${res.status}: ${text.slice(0, 300)}`);
      return JSON.parse(text) as Snapshot;
    },
    workerd() {
      const procs = workerdProcesses(dev.pid);
      return {
        pids: procs.map((p) => p.pid),
        rssBytes: procs.reduce((n, p) => n + (rssBytes(p.pid) ?? 0), 0),
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

/** Samples workerd's RSS every `everyMs` while running; `stop()` returns the peak. */
export function rssSampler(stack: LiveStack, everyMs = 1_000): { stop(): number } {
  let peak = stack.workerd().rssBytes;
  const timer = setInterval(() => (peak = Math.max(peak, stack.workerd().rssBytes)), everyMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, stack.workerd().rssBytes);
    },
  };
}

export const MB = 1024 * 1024;
