/**
 * The LiveKit server side of the bridge: its hidden, subscribe-only join token, and the server API
 * calls behind `--on-alert` and `--all-rooms` (livekit-server-sdk).
 */
import { AccessToken, RoomServiceClient } from "livekit-server-sdk";
import type { LiveKitServer, OnAlertAction } from "./config.js";

/** How long the bridge's join token is valid (it is minted again for every connection). */
export const BRIDGE_TOKEN_TTL_S = 3_600;

/**
 * A join token that no other participant sees (`hidden`), that publishes no media, and that may
 * publish data (the `deepfake_alert` messages) and subscribe.
 */
export async function bridgeToken(server: LiveKitServer, room: string, identity: string): Promise<string> {
  const options = { identity, name: "deepfake-edge", ttl: BRIDGE_TOKEN_TTL_S };
  const token = new AccessToken(server.apiKey, server.apiSecret, options);
  token.addGrant({ roomJoin: true, room, hidden: true, canPublish: false, canPublishData: true, canSubscribe: true });
  return token.toJwt();
}

/** The server API's base URL: http(s) for a ws(s) LIVEKIT_URL. */
export function apiUrl(url: string): string {
  return url.replace(/^ws(s?):\/\//, "http$1://");
}

export function roomService(server: LiveKitServer): RoomServiceClient {
  return new RoomServiceClient(apiUrl(server.url), server.apiKey, server.apiSecret);
}

/**
 * The action of `--on-alert` for one participant that just went to ALERT: mute every track it
 * publishes, or remove it from the room. Resolves with what was done.
 */
export async function actOnAlert(
  service: RoomServiceClient,
  action: OnAlertAction,
  room: string,
  identity: string,
  trackSids: string[],
): Promise<string> {
  if (action === "remove") {
    await service.removeParticipant(room, identity);
    return `removed ${identity} from ${room}`;
  }
  if (action === "mute") {
    for (const sid of trackSids) await service.mutePublishedTrack(room, identity, sid, true);
    return `muted ${trackSids.length} track(s) of ${identity}`;
  }
  return "none";
}

/** The rooms the server reports with someone publishing, and how many publish in each. */
export async function publishingRooms(service: RoomServiceClient): Promise<Map<string, number>> {
  const rooms = await service.listRooms();
  return new Map(rooms.filter((r) => r.numPublishers > 0).map((r) => [r.name, r.numPublishers]));
}
