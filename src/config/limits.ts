/**
 * Every limit and default of the service (docs/DESIGN.md §3–§7), with units in their names. A leaf:
 * it imports nothing, so the server, the protocol layer and the client SDK all share it.
 */

// ---- service and video ----------------------------------------------------------------------

export const DEFAULT_DATASPIKE_WS_URL = "wss://api.dataspike.io/api/v4/deepfake/stream";

export const VIDEO_NORMAL_FPS = 0.2;
export const VIDEO_BURST_FPS = 1.0;
export const VIDEO_JPEG_QUALITY = 75;
export const VIDEO_MAX_WIDTH = 1920;
export const VIDEO_MAX_HEIGHT = 1080;
/** Sampler tolerance as a share of the period, so jittered clients at the announced rate keep every frame. */
export const SAMPLER_TOLERANCE_RATIO = 0.25;
/**
 * Overload: a sampled raw frame whose encode had to wait this long behind the isolate's other work
 * is skipped before it is encoded (counted frames_busy): the first thing the service sheds.
 */
export const VIDEO_BUSY_AFTER_MS = 250;

export const QUEUE_MAX_ITEMS = 16;
/** The send queue is bounded by bytes as well as items; the oldest items go first. */
export const QUEUE_MAX_BYTES = 32 * 1024 * 1024;
/** A queued item older than this is dropped (counted as dropped_stale) instead of sent. */
export const QUEUE_MAX_AGE_S = 10;
export const RECONNECT_INITIAL_MS = 1_000;
export const RECONNECT_MAX_MS = 10_000;
export const RECONNECT_JITTER_RATIO = 0.5;
/** A connection that stays open this long counts as healthy and resets the backoff. */
export const UPSTREAM_HEALTHY_AFTER_MS = 10_000;
/** How long the upstream stays open after the last client socket leaves. */
export const UPSTREAM_IDLE_CLOSE_MS = 10_000;
/** Upstream connect attempts that take longer are abandoned and retried. */
export const UPSTREAM_CONNECT_TIMEOUT_MS = 10_000;
/**
 * An upstream connection that answers nothing this long after a FrameRequest went out counts as
 * stalled: it is closed and replaced (UPSTREAM_STALL_TIMEOUT_MS; 0 disables the check).
 */
export const UPSTREAM_STALL_TIMEOUT_MS = 60_000;

/** A track stops counting towards the participant's level when closed or silent this long (TRACK_TTL_S). */
export const TRACK_TTL_S = 120;
/**
 * A counting track's last activity is written to storage at most this often (and with every level
 * change): after a restart it is read as this much later than stored, so a track never expires
 * early and at most this much late.
 */
export const TRACK_ACTIVITY_PERSIST_MS = 5_000;
/** The upstream's message is cut to this many UTF-8 bytes before it is stored, broadcast or sent. */
export const UPSTREAM_MESSAGE_MAX_BYTES = 1_024;
/** Durable Objects receive WebSocket messages of up to 32 MiB (Cloudflare's platform limit). */
export const PLATFORM_MAX_WS_MESSAGE_BYTES = 32 * 1024 * 1024;
/** Room for the protobuf framing and track id around the largest raw frame. */
export const CLIENT_MESSAGE_FRAMING_BYTES = 64 * 1024;
/**
 * Largest binary message a client may send: the largest raw frame the deployment accepts
 * (maxWidth x maxHeight RGBA) plus framing, never above the platform limit. With the default
 * 1920x1080 maximum that is 8 359 936 bytes.
 */
export function maxClientMessageBytes(maxWidth: number, maxHeight: number): number {
  return Math.min(PLATFORM_MAX_WS_MESSAGE_BYTES, maxWidth * maxHeight * 4 + CLIENT_MESSAGE_FRAMING_BYTES);
}
/** The default cap (VIDEO_MAX_WIDTH x VIDEO_MAX_HEIGHT at their defaults). */
export const MAX_CLIENT_MESSAGE_BYTES = maxClientMessageBytes(VIDEO_MAX_WIDTH, VIDEO_MAX_HEIGHT);
export const MAX_TRACK_ID_CHARS = 128;
/** Client sockets per participant. */
export const MAX_CLIENTS_PER_PARTICIPANT = 16;
/** Distinct video tracks per participant (each has its own sampler). */
export const MAX_VIDEO_TRACKS = 8;
/** A socket that sends this many bad messages in a row is closed with 1008. */
export const MAX_CONSECUTIVE_BAD_MESSAGES = 50;

// ---- per-socket budgets (docs/DESIGN.md §5) --------------------------------------------------------
// Token buckets per socket, refilled continuously. A 30 fps 1080p I420 camera (3.1 MB a frame,
// 93 MB/s) plus 50 audio frames/s is 80 messages and ~93 MB per second; the defaults leave about
// 3x (messages) and 1.4x (bytes) of room. Each bucket holds BUDGET_WINDOW_S of its rate, so a
// client is judged over a window long enough to absorb a stall of its object (overload is not abuse).

/** Every budget is judged over a window of at least this long: its bursts hold this many seconds of its rate. */
export const BUDGET_WINDOW_S = 10;
/** Sustained messages per second per socket. */
export const SOCKET_BUDGET_MESSAGES_PER_S = 250;
/** Messages a socket may send at once above the sustained rate (the bucket's size): BUDGET_WINDOW_S of it. */
export const SOCKET_BUDGET_MESSAGES_BURST = SOCKET_BUDGET_MESSAGES_PER_S * BUDGET_WINDOW_S;
/** Sustained bytes per second per socket: 128 MiB/s, above 30 fps of 1920x1080 I420 (93 MB/s). */
export const SOCKET_BUDGET_BYTES_PER_S = 128 * 1024 * 1024;
/** Bytes a socket may send at once above the sustained rate: BUDGET_WINDOW_S of it. */
export const SOCKET_BUDGET_BYTES_BURST = SOCKET_BUDGET_BYTES_PER_S * BUDGET_WINDOW_S;
/**
 * Raw pixels per second a socket's frames may have converted and JPEG-encoded, as a multiple of
 * what one camera at the deployment's largest frame size (VIDEO_MAX_WIDTH x VIDEO_MAX_HEIGHT) and
 * its fastest sampling rate needs: by default 1.25 x 1920 x 1080 per second. Encoding is the
 * costliest thing a client can ask for; sampled frames over this budget are skipped (counted as
 * frames_throttled), never encoded. JPEG input is never encoded and does not count.
 */
export const SOCKET_BUDGET_ENCODE_HEADROOM_RATIO = 1.25;
/** The encode budget's burst: this many of the largest frames at once. */
export const SOCKET_BUDGET_ENCODE_BURST_FRAMES = 2;
/** Audio may arrive at most this much faster than real time, per audio track of a socket. */
export const AUDIO_MAX_SPEED_RATIO = 1.5;
/** Audio seconds a track may run ahead of the wall clock at once (network bunching) before pacing bites. */
export const AUDIO_BURST_S = 2;
/**
 * Audio a track may have fallen behind real time (its object running late, or the client pausing)
 * and then deliver at once without refusal: a catch-up burst after a stall of up to this long is
 * admitted however fast it arrives. It is credit the track earns only by sending less than real time.
 */
export const AUDIO_MAX_LATENESS_S = 30;
/**
 * The sockets of one participant together get one socket's budget (messages, bytes, encode), and
 * audio over all their tracks at most this much faster than real time: one socket's AUDIO_MAX_TRACKS
 * tracks at AUDIO_MAX_SPEED_RATIO. So 16 sockets x 4 tracks buy no more than one client's worth.
 */
export const PARTICIPANT_AUDIO_MAX_SPEED_RATIO = 6;
/**
 * Messages refused for being over budget, in a row within SOCKET_OVER_BUDGET_WINDOW_MS, before the
 * socket is closed with 1008, and only if what it sent since it connected is over the budget's
 * sustained rate over at least BUDGET_WINDOW_S (a client that sent at real time never is, however
 * late its messages were read). Each refusal gets an `error` event with code `rate_limited`.
 */
export const SOCKET_OVER_BUDGET_CLOSE_AFTER = 200;
/**
 * After a socket was closed with 1008 (over budget, or bad messages in a row), new sockets of the
 * participant are refused (429) this long, so reconnecting does not buy a hostile client a fresh
 * budget again and again. Sockets already open are not affected.
 */
export const POLICY_CLOSE_COOLDOWN_MS = 5_000;
/** A socket that stays within its budget this long starts its over-budget count again. */
export const SOCKET_OVER_BUDGET_WINDOW_MS = 5_000;
/** At most this many `rate_limited` events per second are sent to one socket (the rest are counted). */
export const SOCKET_RATE_LIMITED_EVENTS_PER_S = 10;
/** In-memory counters are written to storage at most this often. */
export const COUNTERS_FLUSH_MS = 5_000;

/** Stored state of a session is purged this long after its last client left (once no webhook is pending). */
export const RETENTION_HOURS = 24;
/** Page sizes of the REST listings (GET .../events and .../webhooks): default and maximum rows. */
export const PAGE_DEFAULT_ROWS = 100;
export const PAGE_MAX_ROWS = 1000;

export const PARTICIPANT_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
/** A room id uses the participant id's alphabet (docs/DESIGN.md §12). */
export const ROOM_ID_PATTERN = PARTICIPANT_ID_PATTERN;

// ---- rooms and the directory (docs/DESIGN.md §12) -----------------------------------------------

/** Room updates a participant sends in one RPC (the rest follow in the next). */
export const ROOM_REPORT_BATCH = 50;
/** A room RPC that has not answered by then counts as failed and is retried. */
export const ROOM_REPORT_TIMEOUT_MS = 5_000;
/** Retry delays of room and directory updates: first, doubling up to the last. */
export const ROOM_RETRY_INITIAL_MS = 500;
export const ROOM_RETRY_MAX_MS = 30_000;
/** Updates a participant keeps for its room while the room does not answer; the oldest go first. */
export const ROOM_REPORT_MAX_PENDING = 1_000;
/**
 * A room restarted with participants it believes connected asks their objects this long after it
 * started (time for clients to reconnect): a participant whose sockets went with a crash or a
 * deploy, without a close the room was told of, is marked as having left.
 */
export const ROOM_PRESENCE_CHECK_MS = 15_000;
/** Watch sockets per room. */
export const MAX_WATCHERS_PER_ROOM = 64;
/** The directory's "alerts in the last hour" window. */
export const ROOM_ALERT_WINDOW_MS = 3_600_000;
/** Rooms listed by GET /v1/rooms at most. */
export const DIRECTORY_MAX_ROOMS = 10_000;

// ---- on-demand checks (docs/DESIGN.md §13) --------------------------------------------------------

/** A check's window when the request names none (an empty body, or duration 0). */
export const CHECK_DEFAULT_DURATION_S = 10;
/** Longest window a check may ask for; more is refused (400 / `bad_check`). */
export const CHECK_MAX_DURATION_S = 60;
/** New checks per participant within CHECK_RATE_WINDOW_S (joining the running one is free). */
export const CHECK_RATE_MAX = 10;
export const CHECK_RATE_WINDOW_S = 600;

// ---- connect tokens and authentication (docs/DESIGN.md §6) -----------------------------------------

/** Longest lifetime of a connect token, enforced when minting and again when verifying. */
export const CONNECT_TOKEN_MAX_TTL_S = 24 * 3600;
export const CONNECT_TOKEN_DEFAULT_TTL_S = 3600;
/** Clock skew tolerated on `exp`, `nbf`, `iat` and the lifetime cap. */
export const CONNECT_TOKEN_LEEWAY_S = 30;
/** Shortest CONNECT_TOKEN_SECRET (and CONNECT_TOKEN_SECRET_PREVIOUS) accepted. */
export const CONNECT_TOKEN_SECRET_MIN_CHARS = 16;
/** Shortest ADMIN_API_KEY (and ADMIN_API_KEY_PREVIOUS) accepted. */
export const ADMIN_API_KEY_MIN_CHARS = 16;
/** Longest token considered at all (ours are about 200 characters). */
export const CONNECT_TOKEN_MAX_CHARS = 4_096;
/** The WebSocket subprotocol of the client contract; the server answers it. */
export const WS_SUBPROTOCOL = "deepfake-edge.v1";
/** A browser carries its token as the subprotocol `bearer.<token>` (it cannot set headers). */
export const WS_BEARER_PROTOCOL_PREFIX = "bearer.";
/**
 * Hosts on which DEV_MODE relaxes authentication (the request URL's hostname); the peer must be a
 * loopback address too (CF-Connecting-IP, see src/router/auth.ts).
 */
export const LOOPBACK_HOSTS: readonly string[] = ["127.0.0.1", "localhost", "[::1]"];

// ---- audio ----------------------------------------------------------------------------------

/** Upstream PCM rate, fixed by the Dataspike API. */
export const AUDIO_SAMPLE_RATE_HZ = 16_000;
/** Samples (not bytes) per upstream PCM message: 3 s at 16 kHz. */
export const AUDIO_CHUNK_SAMPLES = 48_000;
/** Bytes per upstream PCM message: s16le mono. */
export const AUDIO_CHUNK_BYTES = AUDIO_CHUNK_SAMPLES * 2;
/** When speech ends, a remainder of at least this many samples (1 s) is zero-padded and sent; less is dropped. */
export const AUDIO_MIN_FLUSH_SAMPLES = 16_000;
/** Default minimum time between two chunks sent upstream; 0 means no limit. */
export const AUDIO_INTERVAL_S = 60;

/**
 * Accepted client input rates (AudioFrame.sample_rate): the common set only, so the resampler
 * kernels are a fixed set built once per isolate and no client can make an object design new ones.
 */
export const AUDIO_INPUT_RATES_HZ: readonly number[] = [
  8_000, 11_025, 12_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000,
];
export const AUDIO_MIN_INPUT_RATE_HZ = 8_000;
export const AUDIO_MAX_INPUT_RATE_HZ = 48_000;
/** Mono or interleaved stereo. */
export const AUDIO_MAX_CHANNELS = 2;
/** Longest audio a single AudioFrame may carry. */
export const AUDIO_MAX_FRAME_MS = 1_000;
/** Distinct audio tracks per socket (each has its own resampler, gate and chunk buffer). */
export const AUDIO_MAX_TRACKS = 4;

/** Cloudflare Realtime SFU WebSocket adapter PCM (`outputCodec: "pcm"`): s16le, 48 kHz, stereo interleaved. */
export const SFU_AUDIO_SAMPLE_RATE_HZ = 48_000;
export const SFU_AUDIO_CHANNELS = 2;

/** Resampler: Kaiser-windowed sinc designed for this stop-band attenuation. */
export const RESAMPLER_STOPBAND_DB = 80;
/** Resampler transition band as a share of the lower Nyquist rate; the stop band starts at that Nyquist rate. */
export const RESAMPLER_TRANSITION_RATIO = 0.15;
/** Rate pairs needing more polyphase rows than this use an interpolated table of RESAMPLER_TABLE_PHASES rows. */
export const RESAMPLER_MAX_EXACT_PHASES = 1_024;
export const RESAMPLER_TABLE_PHASES = 256;

/** Built-in voice gate: analysis window of the 16 kHz signal (20 ms). */
export const VAD_WINDOW_SAMPLES = 320;
/** A window is loud when its level is this far above the noise floor (and above VAD_MIN_START_DBFS). */
export const VAD_START_MARGIN_DB = 12;
/** While speaking, a window is quiet when its level is below floor + this (or below VAD_MIN_STOP_DBFS). */
export const VAD_STOP_MARGIN_DB = 6;
/** Absolute levels below which a window never counts as loud / always counts as quiet. */
export const VAD_MIN_START_DBFS = -45;
export const VAD_MIN_STOP_DBFS = -50;
/** Consecutive loud windows needed to open the gate (80 ms): a click shorter than 60 ms never opens it. */
export const VAD_START_WINDOWS = 4;
/** Consecutive quiet windows before the gate closes (hangover, 400 ms). */
export const VAD_HANGOVER_WINDOWS = 20;
/** The first window seeds the noise floor, but never above this level. */
export const VAD_INITIAL_FLOOR_MAX_DBFS = -50;
/** Level reported for digital silence. */
export const VAD_SILENCE_DBFS = -100;

// ---- webhooks -------------------------------------------------------------------------------

const SECOND_MS = 1_000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;
const times = (count: number, delayMs: number): number[] => Array.from({ length: count }, () => delayMs);

/**
 * The default WEBHOOK_RETRY_SCHEDULE: delays between attempts, built for real-time alerts. Dense
 * first (1, 2, 4, 8 s, then 10 s up to 135 s after the event), then 50 s up to 67 min, then backing
 * off to 6 h. Each delay is spread by ±WEBHOOK_RETRY_JITTER_RATIO and counted from the start of the
 * failed attempt, so even with the jitter no gap in the first 2 minutes exceeds 11 s and none in
 * the first hour exceeds 55 s (README, Webhooks). It runs past 3 days on purpose: the retry window
 * (WEBHOOK_RETRY_WINDOW_MS) ends it, so retries go on until the window closes, the last one less
 * than 7 h before. As a WEBHOOK_RETRY_SCHEDULE value: "1s,2s,4s,8s,10s*12,50s*78,2m,5m,10m,20m,30m,1h,2h,4h,6h*12".
 */
export const WEBHOOK_RETRY_SCHEDULE_MS: readonly number[] = Object.freeze([
  1 * SECOND_MS,
  2 * SECOND_MS,
  4 * SECOND_MS,
  8 * SECOND_MS,
  ...times(12, 10 * SECOND_MS),
  ...times(78, 50 * SECOND_MS),
  2 * MINUTE_MS,
  5 * MINUTE_MS,
  10 * MINUTE_MS,
  20 * MINUTE_MS,
  30 * MINUTE_MS,
  1 * HOUR_MS,
  2 * HOUR_MS,
  4 * HOUR_MS,
  ...times(12, 6 * HOUR_MS),
]);
/** Each retry delay is spread by ±10 % so consumers recovering from an outage are not stampeded. */
export const WEBHOOK_RETRY_JITTER_RATIO = 0.1;
/** WEBHOOK_RETRY_WINDOW: an event still pending this long after it was created is marked failed. */
export const WEBHOOK_RETRY_WINDOW_MS = 3 * DAY_MS;
export const WEBHOOK_RETRY_WINDOW_MIN_MS = 100;
export const WEBHOOK_RETRY_WINDOW_MAX_MS = 30 * DAY_MS;
/** A Retry-After further out than this is cut to it. */
export const WEBHOOK_RETRY_AFTER_MAX_MS = DAY_MS;
/** Bounds of a configured schedule. */
export const WEBHOOK_RETRY_MAX_ENTRIES = 200;
export const WEBHOOK_RETRY_MAX_DELAY_MS = 7 * DAY_MS;
/** Per-attempt request timeout (WEBHOOK_TIMEOUT_MS) and its accepted range. */
export const WEBHOOK_TIMEOUT_MS = 10_000;
export const WEBHOOK_TIMEOUT_MIN_MS = 100;
/** At most two thirds of a run's budget, so every run has room for at least one attempt per URL. */
export const WEBHOOK_TIMEOUT_MAX_MS = 20_000;
/**
 * One delivery run (an alarm invocation, or the run right after a transition) starts no attempt that
 * could end after this much wall time, then re-arms the alarm for the rest. Well under the platform's
 * 15-minute wall-clock limit for an alarm handler, whatever the consumer does.
 */
export const WEBHOOK_RUN_BUDGET_MS = 30_000;
/** Attempts one run makes at most, across all URLs; the rest wait for the next alarm (armed at once). */
export const WEBHOOK_MAX_ATTEMPTS_PER_RUN = 100;
/** A claimed delivery's lease outlives its request timeout by this much. */
export const WEBHOOK_LEASE_MARGIN_MS = 5_000;
/** The stored last error of a delivery is cut to this many characters. */
export const OUTBOX_ERROR_MAX_CHARS = 500;

// ---- media ----------------------------------------------------------------------------------

/** How long a JPEG decode (the simulator's check) may take before the image counts as undecodable. */
export const JPEG_DECODE_TIMEOUT_MS = 2_000;
