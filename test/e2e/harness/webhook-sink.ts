/**
 * A webhook consumer for end-to-end tests (docs/DESIGN.md §7): a plain Node HTTP server on 127.0.0.1
 * that verifies every POST with the official `standardwebhooks` package, exactly as a real
 * consumer would, and records what arrived and what it answered.
 *
 * It can be steered to answer another status (500, 503 with Retry-After, 410, ...) for a while or
 * until told otherwise, or to never answer at all (`hang()`), to exercise the service's retries. A
 * delivery whose signature does not verify is answered 400 (what a real consumer does) and recorded
 * with `verified: false`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { Webhook } from "standardwebhooks";

export interface SinkDelivery {
  /** Receipt time (Date.now() when the body was fully read). */
  atMs: number;
  /** The `webhook-id` header ("" when missing). */
  id: string;
  /** The `webhook-timestamp` header ("" when missing). */
  timestamp: string;
  /** The `webhook-signature` header ("" when missing). */
  signature: string;
  /** The raw request body, as signed. */
  body: string;
  /** True when `new Webhook(secret).verify(body, headers)` accepted it. */
  verified: boolean;
  /** Why verification failed (verified === false). */
  verifyError?: string;
  /** Whether the official library also accepted it under each of `alsoVerifyWith`, in order. */
  alsoVerified: boolean[];
  /** The status this sink answered; 0 when it never answered (`hang()`). */
  status: number;
  method: string;
  path: string;
  contentType: string | undefined;
}

export interface SinkResponse {
  status: number;
  /** Sent as the Retry-After header (seconds or an HTTP date). */
  retryAfter?: string;
}

export interface WebhookSinkOptions {
  /** `whsec_<base64>`, the service's WEBHOOK_SECRET. */
  secret: string;
  /** Path part of `url` (default "/webhook"); any path is accepted and recorded. */
  path?: string;
  /** More secrets to check every request against (recorded only; `secret` decides the answer). */
  alsoVerifyWith?: string[];
  /** Listen on this port (a consumer coming back where it was); a free one when omitted. */
  port?: number;
}

const HEALTHY: SinkResponse = { status: 204 };

export class WebhookSink {
  /** Every request, in order of receipt (including the ones answered non-2xx). */
  readonly deliveries: SinkDelivery[] = [];

  readonly #webhook: Webhook;
  readonly #others: Webhook[];
  #response: SinkResponse = HEALTHY;
  /** When set, `#response` applies until this time, then the sink is healthy again. */
  #responseUntilMs: number | null = null;
  #hanging = false;
  readonly #waiters = new Set<() => void>();

  private constructor(
    readonly port: number,
    readonly url: string,
    private readonly server: Server,
    secret: string,
    others: string[],
  ) {
    this.#webhook = new Webhook(secret);
    this.#others = others.map((other) => new Webhook(other));
  }

  static async start(options: WebhookSinkOptions): Promise<WebhookSink> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("webhook sink: no port");
    const path = options.path ?? "/webhook";
    const sink = new WebhookSink(address.port, `http://127.0.0.1:${address.port}${path}`, server, options.secret, options.alsoVerifyWith ?? []);
    server.on("request", (req, res) => sink.#onRequest(req, res));
    return sink;
  }

  /** Answer `response` to every request until `healthy()` (or for `forMs` only). */
  respondWith(response: SinkResponse, forMs?: number): void {
    this.#response = response;
    this.#responseUntilMs = forMs === undefined ? null : Date.now() + forMs;
  }

  /** Answer `status` (default 500) for `ms` milliseconds from now, then 204 again. */
  failFor(ms: number, status = 500, retryAfter?: string): void {
    this.respondWith(retryAfter === undefined ? { status } : { status, retryAfter }, ms);
  }

  /** Read every request and never answer it (until `healthy()`): the service's request times out. */
  hang(): void {
    this.#hanging = true;
  }

  /** Back to answering 204. */
  healthy(): void {
    this.#response = HEALTHY;
    this.#responseUntilMs = null;
    this.#hanging = false;
  }

  /** Deliveries this sink answered with a 2xx. */
  accepted(): SinkDelivery[] {
    return this.deliveries.filter((d) => d.status >= 200 && d.status <= 299);
  }

  /** Every request carrying this webhook id, in order. */
  attemptsFor(id: string): SinkDelivery[] {
    return this.deliveries.filter((d) => d.id === id);
  }

  /** Resolves once `predicate()` holds (checked on every request and every 50 ms), or throws after `timeoutMs`. */
  waitFor(predicate: () => boolean, timeoutMs: number, what = "condition"): Promise<void> {
    return new Promise((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      let poll: ReturnType<typeof setInterval> | undefined;
      const cleanup = (): void => {
        clearTimeout(timer);
        clearInterval(poll);
        this.#waiters.delete(check);
      };
      const check = (): void => {
        if (predicate()) {
          cleanup();
          resolve();
        }
      };
      timer = setTimeout(() => {
        cleanup();
        reject(new Error(`webhook sink ${this.url}: timed out after ${timeoutMs} ms waiting for ${what}; got ${this.describe()}`));
      }, timeoutMs);
      poll = setInterval(check, 50);
      this.#waiters.add(check);
      check();
    });
  }

  /** Waits until a 2xx-answered delivery with this id arrived; returns it. */
  async waitForAccepted(id: string, timeoutMs: number): Promise<SinkDelivery> {
    await this.waitFor(() => this.accepted().some((d) => d.id === id), timeoutMs, `an accepted delivery of ${id}`);
    return this.accepted().find((d) => d.id === id)!;
  }

  /** A short summary of what arrived, for failure messages. */
  describe(): string {
    if (this.deliveries.length === 0) return "no deliveries";
    const shown = this.deliveries.slice(-20).map((d) => `${d.id || "<no id>"}:${d.status}${d.verified ? "" : "(unverified)"}`);
    return `${this.deliveries.length} deliveries, last ${shown.length}: ${shown.join(", ")}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  #currentResponse(): SinkResponse {
    if (this.#responseUntilMs !== null && Date.now() >= this.#responseUntilMs) this.healthy();
    return this.#response;
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const atMs = Date.now();
      const body = Buffer.concat(chunks).toString("utf8");
      const header = (name: string): string => {
        const value = req.headers[name];
        return Array.isArray(value) ? value.join(", ") : (value ?? "");
      };
      const headers = {
        "webhook-id": header("webhook-id"),
        "webhook-timestamp": header("webhook-timestamp"),
        "webhook-signature": header("webhook-signature"),
      };
      let verified = false;
      let verifyError: string | undefined;
      try {
        this.#webhook.verify(body, headers);
        verified = true;
      } catch (err) {
        verifyError = err instanceof Error ? err.message : String(err);
      }
      const alsoVerified = this.#others.map((other) => {
        try {
          other.verify(body, headers);
          return true;
        } catch {
          return false;
        }
      });
      const hanging = verified && this.#hanging;
      const response: SinkResponse = hanging ? { status: 0 } : verified ? this.#currentResponse() : { status: 400 };
      const delivery: SinkDelivery = {
        atMs,
        id: headers["webhook-id"],
        timestamp: headers["webhook-timestamp"],
        signature: headers["webhook-signature"],
        body,
        verified,
        alsoVerified,
        status: response.status,
        method: req.method ?? "",
        path: req.url ?? "",
        contentType: req.headers["content-type"],
      };
      if (verifyError !== undefined) delivery.verifyError = verifyError;
      this.deliveries.push(delivery);
      if (hanging) {
        for (const waiter of [...this.#waiters]) waiter();
        return;
      }
      const responseHeaders: Record<string, string> = { "content-type": "text/plain" };
      if (response.retryAfter !== undefined) responseHeaders["retry-after"] = response.retryAfter;
      res.writeHead(response.status, responseHeaders).end(response.status >= 200 && response.status <= 299 ? "" : `sink answers ${response.status}`);
      for (const waiter of [...this.#waiters]) waiter();
    });
    req.on("error", () => {
      // The service aborted the request (timeout); nothing was recorded.
    });
  }
}
