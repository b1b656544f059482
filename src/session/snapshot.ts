/**
 * What the management routes read (docs/DESIGN.md §6): the participant snapshot, a page of the transition
 * history, a page of the webhook outbox. Pure.
 */
import type { Config } from "../config/config.js";
import type { DeepfakeAlert } from "../protocol/events.js";
import { refuse, type Answer } from "../shared/http.js";
import type { UpstreamStatus } from "../upstream/link.js";
import type { WebhookOutbox, WebhookOutboxEntry } from "../webhooks/outbox.js";
import type { ActiveParticipant } from "./active-participant.js";
import type { CounterName } from "./counters.js";
import type { EventsQuery, WebhooksQuery } from "./queries.js";
import type { SessionStore } from "./store.js";

export interface SnapshotSources {
  live: ActiveParticipant;
  config: Config;
  upstream: { status: UpstreamStatus; queued: number };
  clients: number;
  feeds: number;
  counters: Record<CounterName, number>;
  store: SessionStore;
  outbox: WebhookOutbox;
  retentionPurgeAtMs: number | null;
  nowMs: number;
}

export function participantSnapshot(s: SnapshotSources) {
  return {
    participant_id: s.live.participantId,
    level: s.live.detection.level,
    since_ms: s.live.sinceMs,
    video_fps: s.live.intake.videoFps,
    simulated: s.config.simulated,
    upstream: s.upstream,
    clients: s.clients,
    feeds: s.feeds,
    // Each counting track, its level, its last FrameRequest upstream, and when it stops counting.
    tracks: s.live.detection.tracks(s.nowMs).map((t) => ({
      track_id: t.trackId,
      level: t.level,
      last_activity_ms: t.lastActivityMs,
      counts_until_ms: t.lastActivityMs + s.live.detection.trackTtlMs,
    })),
    track_ttl_s: s.live.detection.trackTtlMs / 1000,
    counters: s.counters,
    history: { events: s.store.historyCount() },
    webhooks: s.outbox.statusCounts(),
    retention_purge_at_ms: s.retentionPurgeAtMs,
  };
}

export type ParticipantSnapshot = ReturnType<typeof participantSnapshot>;

export interface HistoryPage {
  events: DeepfakeAlert[];
  next_after: string | null;
}

export function historyPage(store: SessionStore, query: EventsQuery): Answer<HistoryPage> {
  const events = store.listHistory(query.after, query.limit);
  if (!events) return refuse(400, "unknown_event", `no event ${query.after} in this participant's history`);
  return {
    ok: true,
    value: { events, next_after: events.length === query.limit ? events[events.length - 1]!.id : null },
  };
}

export type OutboxPage = ReturnType<WebhookOutbox["statusCounts"]> & {
  webhooks: WebhookOutboxEntry[];
  next_after: number | null;
};

export function outboxPage(outbox: WebhookOutbox, query: WebhooksQuery): Answer<OutboxPage> {
  const entries = outbox.list(query);
  const next = entries.length === query.limit ? entries[entries.length - 1]!.seq : null;
  return { ok: true, value: { ...outbox.statusCounts(), webhooks: entries, next_after: next } };
}
