/**
 * Cloudflare's published prices (Workers Paid plan, Standard usage model), as read on the date below
 * from developers.cloudflare.com: /durable-objects/platform/pricing/ and /workers/platform/pricing/.
 * The README's "What it costs" section names the same prices; change both together.
 */
export const PRICES = {
  readOn: "2026-12-05",
  /** Durable Objects requests (HTTP, RPC, WebSocket messages, alarms): USD per million. */
  doRequestsPerMillion: 0.15,
  /** Incoming WebSocket messages billed as one request per this many (the documented 20:1 ratio). */
  wsMessagesPerRequest: 20,
  /** Durable Objects duration: USD per million GB-s, billed at 128 MB per object whatever it uses. */
  doGbSecondsPerMillion: 12.5,
  doMemoryGb: 0.128,
  /** SQLite-backed storage: USD per million rows written. */
  rowsWrittenPerMillion: 1.0,
  /** Workers requests (each WebSocket upgrade through the Worker): USD per million. */
  workerRequestsPerMillion: 0.3,
  /** Workers CPU: USD per million CPU ms (the Worker's invocations; a Durable Object's CPU is billed as duration). */
  workersCpuMsPerMillion: 0.02,
} as const;

export interface HourUsage {
  /** WebSocket connections per participant (each one upgrade request through the Worker and to the object). */
  sockets: number;
  messagesReceived: number;
  /** The object's CPU (not billed by the ms; shown for scale). */
  cpuMs: number;
  /** Seconds the object is billed as active. */
  activeSeconds: number;
  rowsWritten: number;
}

export interface HourCost {
  requests: number;
  duration: number;
  rows: number;
  total: number;
}

/** The marginal cost of the usage in USD (no included allowances, no monthly minimum). */
export function participantHourCost(u: HourUsage): HourCost {
  const p = PRICES;
  const doRequests = u.sockets + u.messagesReceived / p.wsMessagesPerRequest;
  const requests = (doRequests * p.doRequestsPerMillion + u.sockets * p.workerRequestsPerMillion) / 1e6;
  const duration = (u.activeSeconds * p.doMemoryGb * p.doGbSecondsPerMillion) / 1e6;
  const rows = (u.rowsWritten * p.rowsWrittenPerMillion) / 1e6;
  return { requests, duration, rows, total: requests + duration + rows };
}
