/**
 * Opens the upstream WebSocket: the Dataspike API (outgoing fetch with Upgrade and Bearer auth), or
 * in development mode the built-in simulator object. Outgoing sockets cannot hibernate, so the
 * caller keeps the socket in memory only.
 */
import { upgradeUrl, type Config } from "../config/config.js";
import type { UpstreamSocket } from "./link.js";

/** The part of a Durable Object namespace used to reach the simulator (structural). */
export interface SimulatorNamespace {
  idFromName(name: string): DurableObjectId;
  get(id: DurableObjectId): { fetch(input: string, init?: RequestInit): Promise<Response> };
}

export async function connectUpstream(
  config: Config,
  participantId: string,
  simulator: SimulatorNamespace,
): Promise<UpstreamSocket> {
  const headers = { Upgrade: "websocket", Authorization: `Bearer ${config.dataspikeApiKey}` };
  const response = config.simulated
    ? await simulator
        .get(simulator.idFromName(participantId))
        .fetch(`https://simulator.internal/stream?participant=${encodeURIComponent(participantId)}`, { headers })
    : await fetch(upgradeUrl(config.dataspikeWsUrl), { headers });
  const socket = response.webSocket;
  if (!socket) {
    const detail = (await response.text().catch(() => "")).slice(0, 200);
    throw new Error(`upgrade refused with HTTP ${response.status}${detail ? `: ${detail}` : ""}`);
  }
  socket.accept();
  // Binary messages would otherwise arrive as Blob on current compatibility dates.
  (socket as WebSocket & { binaryType: string }).binaryType = "arraybuffer";
  return socket;
}
