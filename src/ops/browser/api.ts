/**
 * The operations view's calls to its own origin, with the admin key (docs/DESIGN.md §12): asked once,
 * kept in sessionStorage for this tab only, sent as `Authorization: Bearer` on requests and as the
 * `bearer.<key>` subprotocol on the watch socket, never in a URL. In development mode on loopback
 * the routes are open and no key is asked for.
 */
import { clientProtocols } from "../../protocol/subprotocol.js";

const KEY_STORAGE = "deepfake-edge.ops.admin-key";

/** Characters a WebSocket subprotocol may carry (an HTTP token, RFC 9110). */
const TOKEN_CHARS = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Thrown when the server wants a (different) admin key. */
export class NeedKey extends Error {
  constructor(readonly refused: boolean) {
    super(refused ? "the admin key was refused" : "an admin key is needed");
  }
}

/** Any other refusal, with the server's error envelope. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function storedKey(): string | null {
  try {
    return sessionStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
}

export function storeKey(key: string | null): void {
  try {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // Storage disabled: the key lives only as long as this page.
  }
  memoryKey = key;
}

let memoryKey: string | null = null;
const currentKey = () => storedKey() ?? memoryKey;

/**
 * Why a key cannot ride on the watch socket, or null when it can: a subprotocol is an HTTP token, so
 * a key with `/`, `=`, spaces and the like (base64, say) makes the room view poll instead.
 */
export function keyProblem(key: string): string | null {
  return TOKEN_CHARS.test(key) ? null : "the key has characters a WebSocket subprotocol cannot carry";
}

/** JSON from the API with the key, or NeedKey / HttpError. */
export async function api(path: string, init: { method?: string } = {}): Promise<unknown> {
  const key = currentKey();
  const headers: Record<string, string> = { accept: "application/json" };
  if (key) headers.authorization = `Bearer ${key}`;
  const res = await fetch(path, { method: init.method ?? "GET", headers, cache: "no-store", credentials: "omit" });
  const body: unknown = await res.json().catch(() => null);
  if (res.status === 401) throw new NeedKey(key !== null);
  if (!res.ok) {
    const envelope = typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {};
    const code = typeof envelope.error === "string" ? envelope.error : "http_error";
    const message = typeof envelope.message === "string" ? envelope.message : `HTTP ${res.status}`;
    throw new HttpError(res.status, code, message);
  }
  return body;
}

export interface Health {
  devMode: boolean;
  simulated: boolean;
}

export async function fetchHealth(): Promise<Health> {
  const res = await fetch("/healthz", { cache: "no-store" });
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  return { devMode: body.dev_mode === true, simulated: body.simulated === true };
}

/** The watch socket: no key in the URL; the key (if any) as a subprotocol beside the contract's. */
export function openWatchSocket(roomId: string): WebSocket {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const url = `${scheme}://${location.host}/v1/rooms/${encodeURIComponent(roomId)}/watch`;
  return new WebSocket(url, clientProtocols(currentKey() ?? undefined));
}

export const roomPath = (roomId: string) => `/v1/rooms/${encodeURIComponent(roomId)}`;
