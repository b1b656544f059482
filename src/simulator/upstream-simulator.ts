/**
 * UpstreamSimulator: a stand-in for the Dataspike streaming API for local development without a key
 * (docs/DESIGN.md §9). One object per participant. It speaks exactly the §3 protocol, checks what it
 * receives (auth header, decodable JPEG, 96 000-byte PCM) and answers every frame with the level a
 * developer steered it to. It is only reachable when DEV_MODE=true and no DATASPIKE_API_KEY is set.
 */
import { DurableObject } from "cloudflare:workers";
import type { ConfigVars } from "../config/config.js";
import { SIMULATOR_API_KEY } from "../config/config.js";
import { AUDIO_CHUNK_BYTES } from "../config/limits.js";
import { FrameFormat, decodeFrameRequest, encodeResultEvent, type FrameRequestFields } from "../protocol/dataspike.js";
import type { ResultKind } from "../protocol/levels.js";
import { errorMessage, log } from "../shared/log.js";
import { checkJpeg } from "./jpeg-check.js";

/** What a steered simulator answers: a detection level, or an upstream ERROR. */
export type SimulatedLevel = "clear" | "suspicious" | "alert" | "error";
export const SIMULATED_LEVELS: readonly SimulatedLevel[] = ["clear", "suspicious", "alert", "error"];

export interface SimulatorStats {
  level: SimulatedLevel;
  jpeg_frames: number;
  pcm_chunks: number;
  rejected: number;
  last_jpeg: { width: number; height: number; bytes: number; at_ms: number } | null;
  last_rejection: string | null;
}

export class UpstreamSimulator extends DurableObject<ConfigVars> {
  #stats: SimulatorStats;
  /** The last frame's participant and track, so a steer can answer at once on that track. */
  #lastFrame: { participantId: string; trackId: string } | null = null;

  constructor(ctx: DurableObjectState, env: ConfigVars) {
    super(ctx, env);
    this.#stats = {
      level: ctx.storage.kv.get<SimulatedLevel>("level") ?? "clear",
      jpeg_frames: 0,
      pcm_chunks: 0,
      rejected: 0,
      last_jpeg: null,
      last_rejection: null,
    };
  }

  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/stream") {
      if (request.headers.get("authorization") !== `Bearer ${SIMULATOR_API_KEY}`) {
        return new Response("missing or wrong Authorization: Bearer header", { status: 401 });
      }
      if (request.headers.get("upgrade")?.toLowerCase() !== "websocket")
        return new Response("expected a WebSocket upgrade", { status: 426 });
      const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
      this.ctx.acceptWebSocket(server);
      log("warn", "SIMULATED upstream connected: results are not real detections", {
        participant: url.searchParams.get("participant"),
      });
      return new Response(null, { status: 101, webSocket: client });
    }
    return new Response("not found", { status: 404 });
  }

  /** RPC: from now on answer this participant's frames with `level`, and answer at once on the open stream. */
  async steer(level: SimulatedLevel): Promise<SimulatorStats> {
    this.ctx.storage.kv.put("level", level);
    this.#stats.level = level;
    log("info", "SIMULATOR steered", { simulated_level: level });
    // As if the next frame had arrived, so the playground's buttons take effect within a second
    // instead of at the next sampled frame (5 s in CLEAR).
    const last = this.#lastFrame;
    if (last) {
      const result = encodeResultEvent({ kind: level, ...last, message: `SIMULATED result: ${level}` });
      for (const ws of this.ctx.getWebSockets()) {
        try {
          ws.send(result);
        } catch {
          // closing socket
        }
      }
    }
    return { ...this.#stats };
  }

  /** RPC: what the simulator received. */
  async stats(): Promise<SimulatorStats> {
    return { ...this.#stats };
  }

  override async webSocketMessage(ws: WebSocket, message: ArrayBuffer | string): Promise<void> {
    let frame: FrameRequestFields | null = null;
    let kind: ResultKind = this.#stats.level;
    let text = `SIMULATED result: ${this.#stats.level}`;
    try {
      if (typeof message === "string") throw new Error("text message: the API expects binary FrameRequest protobuf");
      frame = decodeFrameRequest(new Uint8Array(message));
      if (!frame.participantId) throw new Error("FrameRequest.participant_id is empty");
      this.#lastFrame = { participantId: frame.participantId, trackId: frame.trackId };
      if (frame.format === FrameFormat.JPEG) {
        const size = await checkJpeg(frame.data);
        this.#stats.jpeg_frames++;
        this.#stats.last_jpeg = { ...size, bytes: frame.data.byteLength, at_ms: Date.now() };
      } else if (frame.format === FrameFormat.PCM) {
        if (frame.data.byteLength !== AUDIO_CHUNK_BYTES) {
          throw new Error(
            `PCM chunk of ${frame.data.byteLength} bytes; the API expects exactly ${AUDIO_CHUNK_BYTES} (48000 ` +
              `samples of s16le)`,
          );
        }
        this.#stats.pcm_chunks++;
      } else {
        throw new Error(`format ${frame.format} is not accepted by this simulator`);
      }
    } catch (err) {
      kind = "error";
      text = `SIMULATED rejection: ${errorMessage(err)}`;
      this.#stats.rejected++;
      this.#stats.last_rejection = text;
    }
    ws.send(
      encodeResultEvent({
        kind,
        participantId: frame?.participantId ?? "",
        trackId: frame?.trackId ?? "",
        message: text,
      }),
    );
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // already closed
    }
  }
}
