/**
 * The command's arguments and environment (docs/DESIGN.md §14), checked before anything connects:
 * `--room NAME` (repeatable) or `--all-rooms`, `--on-alert none|mute|remove`, `--speaking
 * service|livekit`, and LiveKit's usual LIVEKIT_URL / LIVEKIT_API_KEY / LIVEKIT_API_SECRET with this
 * service's DEEPFAKE_EDGE_URL and DEEPFAKE_EDGE_ADMIN_KEY (the names the Pipecat integration uses).
 */
import { parseArgs } from "node:util";

export const ON_ALERT_ACTIONS = ["none", "mute", "remove"] as const;
export type OnAlertAction = (typeof ON_ALERT_ACTIONS)[number];
export const SPEAKING_SOURCES = ["service", "livekit"] as const;
/** Who decides when a participant speaks: the service's voice gate, or LiveKit's active speakers. */
export type SpeakingSource = (typeof SPEAKING_SOURCES)[number];

export interface LiveKitServer {
  /** ws(s):// or http(s):// of the LiveKit server. */
  url: string;
  apiKey: string;
  apiSecret: string;
}

export interface EdgeService {
  /** http(s):// of this service. */
  url: string;
  /** ADMIN_API_KEY: mints connect tokens with the room claim; not needed in development mode on loopback. */
  adminKey?: string;
}

export interface CommandConfig {
  rooms: string[];
  allRooms: boolean;
  onAlert: OnAlertAction;
  speaking: SpeakingSource;
  /** The bridge's own (hidden) LiveKit identity; default deepfake-edge-<random>. */
  identity?: string;
  livekit: LiveKitServer;
  edge: EdgeService;
}

export const USAGE = `Usage: deepfake-edge-livekit (--room NAME ... | --all-rooms) [options]

Joins LiveKit rooms as a hidden, subscribe-only participant and streams every remote participant's
camera and microphone to deepfake-edge. Transitions are published into the room on topic
"deepfake_alert".

Options:
  --room NAME          a LiveKit room to watch (repeat for more)
  --all-rooms          watch every room where someone publishes, as rooms come and go
  --on-alert ACTION    none (default), mute (the participant's published tracks) or remove (from the room)
  --speaking SOURCE    service (default: the service's voice gate) or livekit (LiveKit's active speakers)
  --identity ID        the bridge's own LiveKit identity (default deepfake-edge-<random>)
  -h, --help           this text

Environment:
  LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET   the LiveKit server and its API key
  DEEPFAKE_EDGE_URL                                  this service, e.g. https://edge.example.com
  DEEPFAKE_EDGE_ADMIN_KEY                            its ADMIN_API_KEY (not needed in development
                                                     mode on loopback)`;

export type ParseResult = { ok: true; config: CommandConfig } | { ok: false; help: boolean; error?: string };

function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], fallback: T, name: string): T {
  if (value === undefined) return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new Error(`${name} must be one of ${allowed.join(", ")}, got "${value}"`);
}

function httpUrl(value: string, name: string, schemes: string[]): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${name} is not a URL: "${value}"`);
  }
  if (!schemes.includes(url.protocol)) throw new Error(`${name} must be ${schemes.map((s) => `${s}//`).join(" or ")}`);
  return value;
}

export function parseCommand(argv: string[], env: Record<string, string | undefined>): ParseResult {
  try {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        room: { type: "string", multiple: true },
        "all-rooms": { type: "boolean" },
        "on-alert": { type: "string" },
        speaking: { type: "string" },
        identity: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help) return { ok: false, help: true };
    const rooms = values.room ?? [];
    const allRooms = values["all-rooms"] ?? false;
    if (allRooms === (rooms.length > 0)) throw new Error("give either --room NAME or --all-rooms");
    if (rooms.some((r) => r.trim() === "")) throw new Error("--room needs a room name");
    const required = ["LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET", "DEEPFAKE_EDGE_URL"];
    const missing = required.filter((k) => !env[k]);
    if (missing.length > 0) throw new Error(`missing environment: ${missing.join(", ")}`);
    const adminKey = env.DEEPFAKE_EDGE_ADMIN_KEY || undefined;
    return {
      ok: true,
      config: {
        rooms,
        allRooms,
        onAlert: oneOf(values["on-alert"], ON_ALERT_ACTIONS, "none", "--on-alert"),
        speaking: oneOf(values.speaking, SPEAKING_SOURCES, "service", "--speaking"),
        ...(values.identity ? { identity: values.identity } : {}),
        livekit: {
          url: httpUrl(env.LIVEKIT_URL!, "LIVEKIT_URL", ["ws:", "wss:", "http:", "https:"]),
          apiKey: env.LIVEKIT_API_KEY!,
          apiSecret: env.LIVEKIT_API_SECRET!,
        },
        edge: {
          url: httpUrl(env.DEEPFAKE_EDGE_URL!, "DEEPFAKE_EDGE_URL", ["http:", "https:"]),
          ...(adminKey ? { adminKey } : {}),
        },
      },
    };
  } catch (err) {
    return { ok: false, help: false, error: (err as Error).message };
  }
}
