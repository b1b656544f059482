/**
 * CPU profiles of the Worker's isolate inside workerd, through the DevTools inspector that
 * `wrangler dev --inspector-port` exposes (Chrome DevTools Protocol over a WebSocket): Profiler.start,
 * then Profiler.stop returns a V8 .cpuprofile. Debugger.getScriptSource fetches the bundle so that
 * frames can be attributed to source files (see cpuprofile.ts).
 */
import WebSocket from "ws";
import type { CpuProfile } from "./cpuprofile.js";

export interface Inspector {
  send<T = unknown>(method: string, params?: Record<string, unknown>): Promise<T>;
  close(): void;
  /** scriptId -> url of every parsed script. */
  scripts: Map<string, string>;
}

export async function connectInspector(port: number, timeoutMs = 10_000): Promise<Inspector> {
  const res = await fetch(`http://127.0.0.1:${port}/json`, { signal: AbortSignal.timeout(timeoutMs) });
  const targets = (await res.json()) as Array<{ webSocketDebuggerUrl?: string; title?: string; url?: string }>;
  const target = targets.find((t) => t.webSocketDebuggerUrl);
  if (!target?.webSocketDebuggerUrl) throw new Error(`no inspector target on port ${port}: ${JSON.stringify(targets).slice(0, 300)}`);
  const ws = new WebSocket(target.webSocketDebuggerUrl, { perMessageDeflate: false, maxPayload: 512 * 1024 * 1024 });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  let nextId = 1;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  const scripts = new Map<string, string>();
  ws.on("message", (data) => {
    const msg = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: { message: string }; method?: string; params?: { scriptId?: string; url?: string } };
    if (msg.method === "Debugger.scriptParsed" && msg.params?.scriptId) scripts.set(msg.params.scriptId, msg.params.url ?? "");
    if (msg.id === undefined) return;
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.error) p.reject(new Error(msg.error.message));
    else p.resolve(msg.result);
  });
  return {
    scripts,
    send<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
      const id = nextId++;
      ws.send(JSON.stringify({ id, method, params }));
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`inspector: ${method} timed out`));
        }, 60_000);
        pending.set(id, {
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v as T);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
      });
    },
    close: () => ws.close(),
  };
}

/** Starts sampling; the returned stop() ends it and returns the profile and the sources of its scripts. */
export async function startProfile(inspector: Inspector, intervalUs = 250): Promise<{ stop(): Promise<{ profile: CpuProfile; sources: Map<string, string> }> }> {
  await inspector.send("Debugger.enable");
  await inspector.send("Profiler.enable");
  await inspector.send("Profiler.setSamplingInterval", { interval: intervalUs });
  await inspector.send("Profiler.start");
  return {
    async stop() {
      const { profile } = await inspector.send<{ profile: CpuProfile }>("Profiler.stop");
      const sources = new Map<string, string>();
      const ids = new Set(profile.nodes.map((n) => n.callFrame.scriptId).filter((id): id is string => id !== undefined && id !== "0"));
      for (const id of ids) {
        try {
          const { scriptSource } = await inspector.send<{ scriptSource: string }>("Debugger.getScriptSource", { scriptId: id });
          sources.set(id, scriptSource);
        } catch {
          // wasm or native: no source
        }
      }
      await inspector.send("Debugger.disable").catch(() => undefined);
      return { profile, sources };
    },
  };
}
