/**
 * An in-memory webhook outbox for Node tests, with the SQLite outbox's rules (src/webhooks/outbox.ts):
 * head of line per URL, leased claims, outcomes recorded against the claim (seq and event id; a retry
 * also by attempt), and a purge that restarts the seqs like the object's deleteAll() does.
 */
import type { DeadlineOutbox } from "../../src/session/deadlines";
import type { DeliveryClaim, DueDelivery, OutboxRow } from "../../src/webhooks/outbox";

export const T0_MS = Date.now();

export interface Row {
  seq: number;
  eventId: string;
  url: string;
  body: string;
  status: "pending" | "delivered" | "failed";
  attempts: number;
  nextAttemptMs: number | null;
  lastError: string | null;
  lastStatus: number | null;
  createdMs: number;
}

export class FakeOutbox implements DeadlineOutbox {
  rows: Row[] = [];

  add(eventId: string, url: string, atMs = T0_MS): Row {
    const body = JSON.stringify({ type: "deepfake_alert", id: eventId });
    const row: Row = {
      seq: this.rows.length + 1, eventId, url, body, status: "pending", attempts: 0, nextAttemptMs: atMs,
      lastError: null, lastStatus: null, createdMs: atMs,
    };
    this.rows.push(row);
    return row;
  }
  /** What DELETE does to the table: every row gone, and the next row gets seq 1 again. */
  purge(): void {
    this.rows = [];
  }
  #heads(): Row[] {
    const heads = new Map<string, Row>();
    for (const row of this.rows) if (row.status === "pending" && !heads.has(row.url)) heads.set(row.url, row);
    return [...heads.values()];
  }
  #due(row: Row): DueDelivery {
    return { seq: row.seq, eventId: row.eventId, url: row.url, body: row.body, attempts: row.attempts, createdMs: row.createdMs };
  }
  /** The pending row a claim's outcome may change (as the SQL WHERE clauses match it). */
  #claimed(claim: DeliveryClaim, attempt?: number): Row | undefined {
    const row = this.rows[claim.seq - 1];
    if (!row || row.eventId !== claim.eventId || row.status !== "pending") return undefined;
    return attempt === undefined || row.attempts === attempt ? row : undefined;
  }
  due(nowMs: number, limit: number): DueDelivery[] {
    return this.#heads()
      .filter((row) => row.nextAttemptMs! <= nowMs)
      .sort((a, b) => a.nextAttemptMs! - b.nextAttemptMs! || a.seq - b.seq)
      .slice(0, limit)
      .map((row) => this.#due(row));
  }
  dueForUrl(url: string, nowMs: number): DueDelivery | null {
    const head = this.#heads().find((row) => row.url === url);
    return head && head.nextAttemptMs! <= nowMs ? this.#due(head) : null;
  }
  claim(seq: number, leaseUntilMs: number, nowMs: number): number | null {
    const row = this.rows[seq - 1];
    if (!row || row.status !== "pending" || row.nextAttemptMs! > nowMs) return null;
    row.attempts++;
    row.nextAttemptMs = leaseUntilMs;
    return row.attempts;
  }
  markDelivered(claim: DeliveryClaim, status: number): boolean {
    const row = this.#claimed(claim);
    if (row) Object.assign(row, { status: "delivered", lastStatus: status, lastError: null, nextAttemptMs: null });
    return row !== undefined;
  }
  markRetry(claim: DeliveryClaim, error: string | null, status: number | null, nextAttemptMs: number): boolean {
    const row = this.#claimed(claim, claim.attempt);
    if (row) Object.assign(row, { lastError: error, lastStatus: status, nextAttemptMs });
    return row !== undefined;
  }
  markFailed(claim: DeliveryClaim, error: string | null, status: number | null): boolean {
    const row = this.#claimed(claim);
    if (row) Object.assign(row, { status: "failed", lastError: error, lastStatus: status, nextAttemptMs: null });
    return row !== undefined;
  }
  expire(closedBeforeMs: number, reason: string, nowMs: number) {
    const expired = this.rows.filter((row) => row.status === "pending" && row.createdMs <= closedBeforeMs && row.nextAttemptMs! <= nowMs);
    for (const row of expired) {
      const lastError = `${reason}${row.lastError ? ` (last error: ${row.lastError})` : ""}`;
      Object.assign(row, { status: "failed", nextAttemptMs: null, lastError });
    }
    return expired.map((row) => ({ seq: row.seq, eventId: row.eventId, url: row.url, attempts: row.attempts }));
  }
  nextDueMs(): number | null {
    const times = this.#heads().map((row) => row.nextAttemptMs!);
    return times.length ? Math.min(...times) : null;
  }
  get(seq: number): OutboxRow | null {
    const row = this.rows[seq - 1];
    return row ? { seq: row.seq, eventId: row.eventId, url: row.url, status: row.status, body: row.body } : null;
  }
  pendingFor(eventId: string, url: string): number | null {
    return this.rows.find((r) => r.status === "pending" && r.eventId === eventId && r.url === url)?.seq ?? null;
  }
  enqueueRedelivery(original: OutboxRow, body: string, nowMs: number): number {
    const row = this.add(original.eventId, original.url, nowMs);
    row.body = body;
    return row.seq;
  }
  abandonUrlsNotIn(urls: readonly string[], _nowMs: number): number {
    const gone = this.rows.filter((r) => r.status === "pending" && !urls.includes(r.url));
    for (const row of gone) Object.assign(row, { status: "failed", nextAttemptMs: null, lastError: "url no longer configured" });
    return gone.length;
  }
}
