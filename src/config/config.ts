/**
 * The parser that turns the Worker's string vars into a validated Config (defaults and limits live
 * in ./limits.ts; import them from there). Pure: no Workers imports.
 */
import {
  ADMIN_API_KEY_MIN_CHARS,
  AUDIO_INTERVAL_S,
  CONNECT_TOKEN_SECRET_MIN_CHARS,
  DEFAULT_DATASPIKE_WS_URL,
  QUEUE_MAX_AGE_S,
  QUEUE_MAX_BYTES,
  QUEUE_MAX_ITEMS,
  RECONNECT_INITIAL_MS,
  RECONNECT_JITTER_RATIO,
  RECONNECT_MAX_MS,
  RETENTION_HOURS,
  TRACK_TTL_S,
  UPSTREAM_IDLE_CLOSE_MS,
  UPSTREAM_STALL_TIMEOUT_MS,
  VIDEO_BURST_FPS,
  VIDEO_JPEG_QUALITY,
  VIDEO_MAX_HEIGHT,
  VIDEO_MAX_WIDTH,
  VIDEO_NORMAL_FPS,
  maxClientMessageBytes,
} from "./limits.js";
import { parseWebhookConfig, type WebhookConfig, type WebhookVars } from "../webhooks/config.js";

export interface Config {
  devMode: boolean;
  /** True when objects stream to the built-in simulator (DEV_MODE and no API key). */
  simulated: boolean;
  dataspikeApiKey: string;
  dataspikeWsUrl: string;
  connectTokenSecret: string | null;
  /** The secret being rotated out: still verifies connect tokens, never signs them. */
  connectTokenSecretPrevious: string | null;
  adminApiKey: string | null;
  /** During a rotation: the old admin key, still accepted. */
  adminApiKeyPrevious: string | null;
  /**
   * True when any secret is set (API key, token secrets, admin key, webhook secrets): then the
   * admin key is required for management routes and token minting, even in development mode.
   */
  secretsConfigured: boolean;
  /**
   * Browser origins (`scheme://host[:port]`, normalised) besides the Worker's own whose pages may open
   * participant and watch sockets (ALLOWED_ORIGINS); see src/router/origin.ts.
   */
  allowedOrigins: readonly string[];
  video: { normalFps: number; burstFps: number; jpegQuality: number; maxWidth: number; maxHeight: number };
  /** Largest client message accepted, in bytes (see maxClientMessageBytes). */
  maxClientMessageBytes: number;
  /** A track stops counting this long after its last FrameRequest was sent upstream. */
  trackTtlMs: number;
  /** Minimum ms between two audio chunks of a track; 0 = no limit. */
  audioIntervalMs: number;
  queue: { maxItems: number; maxBytes: number; maxAgeMs: number };
  reconnect: { initialMs: number; maxMs: number; jitterRatio: number };
  upstreamIdleCloseMs: number;
  /** 0 = never treat a silent upstream as stalled. */
  upstreamStallTimeoutMs: number;
  webhooks: WebhookConfig;
  retentionMs: number;
}

/**
 * Every var of the Worker (wrangler.toml [vars] and secrets), as strings; parseConfig validates them.
 * The Worker's Env extends this, so each var is declared once, here.
 */
export interface ConfigVars extends WebhookVars {
  /** "true" enables local development mode: the simulator and relaxed auth. Never set it in production. */
  DEV_MODE?: string;
  /** Secret. Without it (in DEV_MODE) objects stream to the built-in simulator. */
  DATASPIKE_API_KEY?: string;
  DATASPIKE_WS_URL?: string;
  /** Secret used to sign and verify HS256 connect tokens. */
  CONNECT_TOKEN_SECRET?: string;
  /** During a rotation: the old secret, which still verifies tokens (never signs). */
  CONNECT_TOKEN_SECRET_PREVIOUS?: string;
  /** Secret bearer key for management routes (tokens, snapshots, history, deletes). */
  ADMIN_API_KEY?: string;
  /** During a rotation: the old admin key, still accepted until it is deleted. */
  ADMIN_API_KEY_PREVIOUS?: string;
  /** Comma-separated origins (besides the Worker's own) whose pages may open participant and watch sockets. */
  ALLOWED_ORIGINS?: string;
  VIDEO_NORMAL_FPS?: string;
  VIDEO_BURST_FPS?: string;
  VIDEO_JPEG_QUALITY?: string;
  VIDEO_MAX_WIDTH?: string;
  VIDEO_MAX_HEIGHT?: string;
  AUDIO_INTERVAL_S?: string;
  TRACK_TTL_S?: string;
  QUEUE_MAX_ITEMS?: string;
  QUEUE_MAX_BYTES?: string;
  QUEUE_MAX_AGE_S?: string;
  RECONNECT_INITIAL_MS?: string;
  RECONNECT_MAX_MS?: string;
  RECONNECT_JITTER_RATIO?: string;
  UPSTREAM_IDLE_CLOSE_MS?: string;
  UPSTREAM_STALL_TIMEOUT_MS?: string;
  RETENTION_HOURS?: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration: ${problems.join("; ")}`);
    this.name = "ConfigError";
  }
}

/** Every secret var: when any is set, management routes need the admin key in every mode. */
export const SECRET_VARS = [
  "DATASPIKE_API_KEY",
  "CONNECT_TOKEN_SECRET",
  "CONNECT_TOKEN_SECRET_PREVIOUS",
  "ADMIN_API_KEY",
  "ADMIN_API_KEY_PREVIOUS",
  "WEBHOOK_SECRET",
  "WEBHOOK_SECRET_PREVIOUS",
] as const;

/**
 * The webhook parser quotes what it refused (a webhook URL can itself be a credential): every
 * quoted value is replaced, so a problem names the setting and the rule but never the value. Quoted
 * examples ("e.g. …", "like …") stay.
 */
function webhookProblems(err: unknown): string[] {
  const text = (err instanceof Error ? err.message : String(err)).replace(/^Invalid webhook configuration: /, "");
  return text
    .split("; ")
    .map((problem) =>
      problem.replace(/(e\.g\. |like )?"(?:[^"\\]|\\.)*"/g, (quoted, example: string | undefined) =>
        example ? quoted : "<value hidden>",
      ),
    );
}

/** The fixed key the participant object presents to the built-in simulator. */
export const SIMULATOR_API_KEY = "simulator-dev-key";

const cache = new WeakMap<object, Config>();

/** Parses and validates the vars; throws ConfigError listing every problem. Cached per env object. */
export function parseConfig(vars: ConfigVars): Config {
  const cached = cache.get(vars);
  if (cached) return cached;
  const problems: string[] = [];
  const num = (name: keyof ConfigVars, fallback: number, min: number, max: number, integer = false): number => {
    const raw = vars[name];
    if (raw === undefined || raw.trim() === "") return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
      // Names the setting, never its value: /healthz is public.
      problems.push(`${name} must be ${integer ? "an integer" : "a number"} in [${min}, ${max}]`);
      return fallback;
    }
    return value;
  };

  const devModeRaw = (vars.DEV_MODE ?? "").trim().toLowerCase();
  if (!["", "true", "false"].includes(devModeRaw)) problems.push(`DEV_MODE must be "true" or "false"`);
  const devMode = devModeRaw === "true";
  const apiKey = (vars.DATASPIKE_API_KEY ?? "").trim();
  const simulated = devMode && apiKey === "";

  const wsUrl = (vars.DATASPIKE_WS_URL ?? "").trim() || DEFAULT_DATASPIKE_WS_URL;
  try {
    const url = new URL(wsUrl);
    if (!["ws:", "wss:", "http:", "https:"].includes(url.protocol)) throw new Error("bad scheme");
  } catch {
    problems.push("DATASPIKE_WS_URL must be a ws(s):// or http(s):// URL");
  }

  const connectTokenSecret = (vars.CONNECT_TOKEN_SECRET ?? "").trim() || null;
  const connectTokenSecretPrevious = (vars.CONNECT_TOKEN_SECRET_PREVIOUS ?? "").trim() || null;
  const adminApiKey = (vars.ADMIN_API_KEY ?? "").trim() || null;
  const adminApiKeyPrevious = (vars.ADMIN_API_KEY_PREVIOUS ?? "").trim() || null;
  if (adminApiKeyPrevious && !adminApiKey) problems.push("ADMIN_API_KEY_PREVIOUS is set without ADMIN_API_KEY");
  const secretsConfigured = SECRET_VARS.some(
    (name) => ((vars as Record<string, unknown>)[name] ?? "").toString().trim() !== "",
  );
  if (!devMode) {
    // Fail closed: production needs every secret.
    if (!apiKey)
      problems.push(
        "DATASPIKE_API_KEY is not set (set it with `wrangler secret put DATASPIKE_API_KEY`, or DEV_MODE=true for " +
          "the simulator)",
      );
    if (!connectTokenSecret)
      problems.push("CONNECT_TOKEN_SECRET is not set (`wrangler secret put CONNECT_TOKEN_SECRET`)");
    if (!adminApiKey) problems.push("ADMIN_API_KEY is not set (`wrangler secret put ADMIN_API_KEY`)");
  }
  if (connectTokenSecret && connectTokenSecret.length < CONNECT_TOKEN_SECRET_MIN_CHARS)
    problems.push(`CONNECT_TOKEN_SECRET must be at least ${CONNECT_TOKEN_SECRET_MIN_CHARS} characters`);
  if (connectTokenSecretPrevious && connectTokenSecretPrevious.length < CONNECT_TOKEN_SECRET_MIN_CHARS) {
    problems.push(`CONNECT_TOKEN_SECRET_PREVIOUS must be at least ${CONNECT_TOKEN_SECRET_MIN_CHARS} characters`);
  }
  for (const [name, key] of [
    ["ADMIN_API_KEY", adminApiKey],
    ["ADMIN_API_KEY_PREVIOUS", adminApiKeyPrevious],
  ] as const) {
    if (key && key.length < ADMIN_API_KEY_MIN_CHARS)
      problems.push(`${name} must be at least ${ADMIN_API_KEY_MIN_CHARS} characters`);
  }
  const allowedOrigins = parseAllowedOrigins(vars.ALLOWED_ORIGINS, problems);
  if (connectTokenSecretPrevious && !connectTokenSecret)
    problems.push(
      "CONNECT_TOKEN_SECRET_PREVIOUS is set without CONNECT_TOKEN_SECRET (the new secret signs; the previous one " +
        "only verifies)",
    );

  const normalFps = num("VIDEO_NORMAL_FPS", VIDEO_NORMAL_FPS, 0, 30);
  const burstFps = num("VIDEO_BURST_FPS", VIDEO_BURST_FPS, 0, 30);
  const initialMs = num("RECONNECT_INITIAL_MS", RECONNECT_INITIAL_MS, 10, 600_000, true);
  const maxMs = num("RECONNECT_MAX_MS", RECONNECT_MAX_MS, 10, 3_600_000, true);
  if (maxMs < initialMs) problems.push("RECONNECT_MAX_MS must be >= RECONNECT_INITIAL_MS");

  let webhooks: WebhookConfig = {
    urls: [],
    secretKey: null,
    previousSecretKey: null,
    scheduleMs: [],
    windowMs: 0,
    timeoutMs: 0,
    runBudgetMs: 0,
  };
  try {
    webhooks = parseWebhookConfig(vars);
  } catch (err) {
    problems.push(...webhookProblems(err));
  }

  const maxWidth = num("VIDEO_MAX_WIDTH", VIDEO_MAX_WIDTH, 16, 7680, true);
  const maxHeight = num("VIDEO_MAX_HEIGHT", VIDEO_MAX_HEIGHT, 16, 4320, true);

  const config: Config = {
    devMode,
    simulated,
    dataspikeApiKey: simulated ? SIMULATOR_API_KEY : apiKey,
    dataspikeWsUrl: wsUrl,
    connectTokenSecret,
    connectTokenSecretPrevious,
    adminApiKey,
    adminApiKeyPrevious,
    secretsConfigured,
    allowedOrigins,
    video: {
      normalFps,
      burstFps,
      jpegQuality: num("VIDEO_JPEG_QUALITY", VIDEO_JPEG_QUALITY, 0, 100, true),
      maxWidth,
      maxHeight,
    },
    maxClientMessageBytes: maxClientMessageBytes(maxWidth, maxHeight),
    trackTtlMs: num("TRACK_TTL_S", TRACK_TTL_S, 1, 86_400) * 1000,
    audioIntervalMs: num("AUDIO_INTERVAL_S", AUDIO_INTERVAL_S, 0, 86_400) * 1000,
    queue: {
      maxItems: num("QUEUE_MAX_ITEMS", QUEUE_MAX_ITEMS, 1, 1024, true),
      maxBytes: num("QUEUE_MAX_BYTES", QUEUE_MAX_BYTES, 65_536, 256 * 1024 * 1024, true),
      maxAgeMs: num("QUEUE_MAX_AGE_S", QUEUE_MAX_AGE_S, 0.1, 3_600) * 1000,
    },
    reconnect: { initialMs, maxMs, jitterRatio: num("RECONNECT_JITTER_RATIO", RECONNECT_JITTER_RATIO, 0, 1) },
    upstreamIdleCloseMs: num("UPSTREAM_IDLE_CLOSE_MS", UPSTREAM_IDLE_CLOSE_MS, 0, 3_600_000, true),
    upstreamStallTimeoutMs: num("UPSTREAM_STALL_TIMEOUT_MS", UPSTREAM_STALL_TIMEOUT_MS, 0, 3_600_000, true),
    webhooks,
    retentionMs: num("RETENTION_HOURS", RETENTION_HOURS, 0, 24 * 365) * 3_600_000,
  };
  if (problems.length > 0) throw new ConfigError(problems);
  cache.set(vars, config);
  return config;
}

/**
 * ALLOWED_ORIGINS: comma-separated `http(s)://host[:port]` origins, each normalised as a browser sends
 * it (lower-case host, no default port, no trailing slash). An entry with a path, query, fragment,
 * credentials, a wildcard or another scheme is a problem, named by its position, not its value. Empty
 * entries (a trailing comma) are ignored.
 */
export function parseAllowedOrigins(raw: string | undefined, problems: string[]): string[] {
  const origins: string[] = [];
  const entries = (raw ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  entries.forEach((entry, index) => {
    const rule = `ALLOWED_ORIGINS entry ${index + 1} must be an origin like https://shop.example (http or https, `;
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      return problems.push(`${rule}not a URL)`);
    }
    const bare = url.pathname === "/" && !url.search && !url.hash && !url.username && !url.password;
    if (!["http:", "https:"].includes(url.protocol) || !bare || entry.includes("*"))
      return problems.push(`${rule}no path, query, credentials or wildcard)`);
    if (!origins.includes(url.origin)) origins.push(url.origin);
  });
  return origins;
}

/** The http(s) URL that fetch() needs for an outgoing WebSocket upgrade. */
export function upgradeUrl(wsUrl: string): string {
  return wsUrl.replace(/^ws(s?):\/\//i, "http$1://");
}
