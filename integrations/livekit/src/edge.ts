/**
 * One SDK client per monitored LiveKit participant, connected to this service as `<room>:<identity>`
 * in room `<room>`. With DEEPFAKE_EDGE_ADMIN_KEY the bridge mints a short-lived connect token with
 * the room claim before every connection attempt (POST /v1/tokens); without it (development mode on
 * loopback) it names the room with `?room=` on the stream URL. The SDK reconnects on its own.
 */
import WebSocket from "ws";
import { DeepfakeEdgeClient, nodeSocketFactory, type SocketFactory } from "@deepfake-edge/client";
import type { EdgeService, SpeakingSource } from "./config.js";

export const BRIDGE_CLIENT_NAME = "deepfake-edge-livekit/0.1.0";
/** Lifetime of a minted connect token: it is only used for the connection attempt it was minted for. */
export const CONNECT_TOKEN_TTL_S = 600;

export interface EdgeParticipant {
  participantId: string;
  roomId: string;
  speaking: SpeakingSource;
}

/** Mints a connect token for one participant in one room (admin key). */
export async function mintConnectToken(edge: EdgeService, participantId: string, roomId: string): Promise<string> {
  const res = await fetch(new URL("/v1/tokens", edge.url), {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${edge.adminKey ?? ""}` },
    body: JSON.stringify({ participant_id: participantId, room: roomId, ttl_s: CONNECT_TOKEN_TTL_S, scope: "stream" }),
  });
  const body = (await res.json().catch(() => null)) as { token?: unknown; message?: unknown } | null;
  if (!res.ok || typeof body?.token !== "string") {
    const detail = typeof body?.message === "string" ? `: ${body.message}` : "";
    throw new Error(`POST /v1/tokens answered ${res.status}${detail}`);
  }
  return body.token;
}

/** The SDK's Node socket factory, with `?room=` added to the stream URL (development mode, no token). */
export function roomSocketFactory(
  roomId: string | null,
  base: SocketFactory = nodeSocketFactory(WebSocket),
): SocketFactory {
  if (roomId === null) return base;
  return (url, token) => {
    const withRoom = new URL(url);
    withRoom.searchParams.set("room", roomId);
    return base(withRoom.toString(), token);
  };
}

export function createEdgeClient(edge: EdgeService, who: EdgeParticipant): DeepfakeEdgeClient {
  const minted = edge.adminKey !== undefined;
  return new DeepfakeEdgeClient({
    baseUrl: edge.url,
    participantId: who.participantId,
    ...(minted ? { token: () => mintConnectToken(edge, who.participantId, who.roomId) } : {}),
    socketFactory: roomSocketFactory(minted ? null : who.roomId),
    hello: { client: BRIDGE_CLIENT_NAME, vad: who.speaking === "livekit" },
  });
}
