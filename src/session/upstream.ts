/**
 * The participant's upstream link, wired to the object's counters, sockets and detection state.
 * Pure: the dialer and the object's callbacks are injected.
 */
import type { Config } from "../config/config.js";
import { UPSTREAM_CONNECT_TIMEOUT_MS, UPSTREAM_HEALTHY_AFTER_MS } from "../config/limits.js";
import type { ServerEvent } from "../protocol/events.js";
import { Backoff } from "../shared/backoff.js";
import { log } from "../shared/log.js";
import { UpstreamLink, type Outgoing, type UpstreamSocket } from "../upstream/link.js";
import { SendQueue } from "../upstream/send-queue.js";
import type { CounterName } from "./counters.js";

export interface UpstreamWiring {
  participantId(): string | undefined;
  dial(participantId: string): Promise<UpstreamSocket>;
  broadcast(event: ServerEvent): void;
  count(name: CounterName, by?: number): void;
  /** A ResultEvent (or anything else) the upstream sent. */
  message(data: ArrayBuffer): void;
  /** A FrameRequest for this track went upstream: the track is active. */
  trackSent(trackId: string): void;
}

export function participantLink(config: Config, wiring: UpstreamWiring): UpstreamLink {
  return new UpstreamLink({
    connect: () => {
      const participantId = wiring.participantId();
      return participantId ? wiring.dial(participantId) : Promise.reject(new Error("no participant"));
    },
    backoff: new Backoff(config.reconnect),
    queue: new SendQueue<Outgoing>({ ...config.queue, sizeOf: (item) => item.data.byteLength }),
    healthyAfterMs: UPSTREAM_HEALTHY_AFTER_MS,
    connectTimeoutMs: UPSTREAM_CONNECT_TIMEOUT_MS,
    stallTimeoutMs: config.upstreamStallTimeoutMs,
    hooks: {
      connected: () => {
        wiring.count("upstream_connects");
        log("info", "upstream connected", { participant: wiring.participantId(), simulated: config.simulated });
        wiring.broadcast({ type: "upstream", status: "connected" });
      },
      reconnecting: (retryInMs, reason) => {
        log("warn", "upstream reconnecting", {
          participant: wiring.participantId(),
          retry_in_ms: Math.round(retryInMs),
          reason,
        });
        wiring.broadcast({ type: "upstream", status: "reconnecting", retry_in_ms: Math.round(retryInMs) });
      },
      message: (data) => wiring.message(data),
      dropped: (count) => wiring.count("dropped_by_queue", count),
      stale: (count) => wiring.count("dropped_stale", count),
      sent: (trackId) => {
        wiring.count("messages_sent");
        if (trackId) wiring.trackSent(trackId);
      },
      // Each fault is counted (upstream_refused, _closed, _stalled, _text, _send_failed); the link carries on.
      fault: (kind, reason) => {
        wiring.count(`upstream_${kind}`);
        if (kind === "text" || kind === "send_failed")
          log("warn", "upstream fault", { participant: wiring.participantId(), fault: kind, reason });
      },
    },
  });
}

/** Closes the upstream a while after the last socket left (an in-memory timer: only matters while awake). */
export class IdleClose {
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly afterMs: number,
    private readonly onIdle: () => void,
  ) {}

  schedule(): void {
    this.cancel();
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.onIdle();
    }, this.afterMs);
  }

  cancel(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
