/**
 * Bindings and vars of the Worker, declared once (see wrangler.toml and the README's configuration table).
 * Every var arrives as a string; src/config.ts parses and validates them.
 */
import type { ParticipantSession } from "./session/participant-session.js";
import type { UpstreamSimulator } from "./simulator/upstream-simulator.js";

export interface Env {
  PARTICIPANT_SESSION: DurableObjectNamespace<ParticipantSession>;
  UPSTREAM_SIMULATOR: DurableObjectNamespace<UpstreamSimulator>;

  /** "true" enables local development mode: the simulator and relaxed auth. Never set it in production. */
  DEV_MODE?: string;
  /** Secret. Without it (in DEV_MODE) objects stream to the built-in simulator. */
  DATASPIKE_API_KEY?: string;
  DATASPIKE_WS_URL?: string;
  /** Secret used to sign and verify HS256 connect tokens. */
  CONNECT_TOKEN_SECRET?: string;
  /** Secret bearer key for management routes (tokens, snapshots, deletes). */
  ADMIN_API_KEY?: string;

  VIDEO_NORMAL_FPS?: string;
  VIDEO_BURST_FPS?: string;
  VIDEO_JPEG_QUALITY?: string;
  VIDEO_MAX_WIDTH?: string;
  VIDEO_MAX_HEIGHT?: string;
  AUDIO_INTERVAL_S?: string;
  QUEUE_MAX_ITEMS?: string;
  RECONNECT_INITIAL_MS?: string;
  RECONNECT_MAX_MS?: string;
  RECONNECT_JITTER_RATIO?: string;
  UPSTREAM_IDLE_CLOSE_MS?: string;
  /** Comma-separated webhook endpoints; each transition is POSTed to every one. */
  WEBHOOK_URLS?: string;
  /** Secret: `whsec_<base64>` Standard Webhooks signing key. Required when WEBHOOK_URLS is set. */
  WEBHOOK_SECRET?: string;
  WEBHOOK_RETRY_SCHEDULE?: string;
  WEBHOOK_TIMEOUT_MS?: string;
  RETENTION_HOURS?: string;
}

type WorkerEnv = Env;
declare global {
  // Types `env` imported from "cloudflare:workers" (used by the Workers-pool tests).
  namespace Cloudflare {
    interface Env extends WorkerEnv {}
    interface GlobalProps {
      mainModule: typeof import("./index.js");
    }
  }
}
