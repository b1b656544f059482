/**
 * The playground's HTTP calls to its own origin: health (dev mode? simulated?), token minting in
 * dev mode, the participant snapshot, and simulator steering. Every answer is checked, not trusted.
 */

export interface Health {
  ok: boolean;
  devMode: boolean;
  simulated: boolean;
  problems: string[];
}

type Json = Record<string, unknown>;

async function json(res: Response): Promise<Json> {
  const body: unknown = await res.json().catch(() => null);
  return typeof body === "object" && body !== null && !Array.isArray(body) ? (body as Json) : {};
}

export async function fetchHealth(): Promise<Health> {
  const res = await fetch("/healthz", { cache: "no-store" });
  const body = await json(res);
  const problems = Array.isArray(body.problems) ? body.problems.filter((p): p is string => typeof p === "string") : [];
  return { ok: res.ok, devMode: body.dev_mode === true, simulated: body.simulated === true, problems };
}

/** POST /v1/tokens: open in dev mode without ADMIN_API_KEY. Null (with the reason) when refused. */
export async function mintToken(
  participantId: string,
  ttlS = 3600,
): Promise<{ token: string } | { token: null; reason: string }> {
  const res = await fetch("/v1/tokens", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ participant_id: participantId, ttl_s: ttlS }),
  });
  const body = await json(res);
  if (res.ok && typeof body.token === "string") return { token: body.token };
  return { token: null, reason: `HTTP ${res.status} ${typeof body.message === "string" ? body.message : ""}`.trim() };
}

export interface Snapshot {
  level: string;
  sinceMs: number | null;
  videoFps: number | null;
  upstream: string;
  queued: number | null;
  clients: number | null;
  counters: Array<[string, number]>;
}

/** GET /v1/participants/:id, or the HTTP status when refused (401 without the admin key). */
export async function fetchSnapshot(participantId: string): Promise<Snapshot | { status: number }> {
  const res = await fetch(`/v1/participants/${encodeURIComponent(participantId)}`, { cache: "no-store" });
  if (!res.ok) return { status: res.status };
  const body = await json(res);
  const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
  const upstream = (typeof body.upstream === "object" && body.upstream !== null ? body.upstream : {}) as Json;
  const counters = typeof body.counters === "object" && body.counters !== null ? (body.counters as Json) : {};
  return {
    level: typeof body.level === "string" ? body.level : "?",
    sinceMs: num(body.since_ms),
    videoFps: num(body.video_fps),
    upstream: typeof upstream.status === "string" ? upstream.status : "?",
    queued: num(upstream.queued),
    clients: num(body.clients),
    counters: Object.entries(counters)
      .filter((entry): entry is [string, number] => typeof entry[1] === "number")
      .sort(([a], [b]) => a.localeCompare(b)),
  };
}

export async function steerSimulator(participantId: string, level: string): Promise<{ ok: boolean; detail: string }> {
  const res = await fetch(`/v1/dev/simulator/${encodeURIComponent(participantId)}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ level }),
  });
  const body = await json(res);
  return {
    ok: res.ok,
    detail: res.ok ? `simulator now answers ${level}` : `HTTP ${res.status} ${String(body.message ?? "")}`,
  };
}
