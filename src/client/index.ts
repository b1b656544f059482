/**
 * deepfake-edge client SDK: see src/client/README.md. Works in browsers (native WebSocket, token as
 * the subprotocol `bearer.<token>`) and in Node (`ws`, token in `Authorization: Bearer`, via
 * nodeSocketFactory). Neither puts a token in a URL.
 */
export { DeepfakeEdgeClient } from "./client.js";
export {
  CLIENT_HEALTHY_AFTER_MS,
  CLIENT_MAX_BUFFERED_BYTES,
  TERMINAL_CLOSE_CODES,
  type ClientOptions,
  type ClientStats,
  type ConnectionState,
  type DropReason,
  type RenderedFrame,
  type SendResult,
  type StateChange,
  type TokenProvider,
} from "./options.js";
export type { ClientEventMap, ClientEventName, ClientListener } from "./emitter.js";
export {
  parseServerEvent,
  type CheckCompletedEvent,
  type CheckStartedEvent,
  type RateEvent,
  type ReadyEvent,
  type ServerErrorEvent,
  type UpstreamErrorEvent,
  type UpstreamEvent,
} from "./events.js";
export type { DeepfakeAlert, ServerEvent } from "../protocol/events.js";
export type { Level } from "../protocol/levels.js";
export { type AudioFrameInput, type PixelFormatName, type VideoFrameInput, type VideoFrameMeta } from "./messages.js";
export { CHECK_ANSWER_GRACE_MS, CheckError } from "./checks.js";
export { AUDIO_BATCH_MS, AudioBatcher, type PcmFrame } from "./audio-batcher.js";
export { AUDIO_FRAME_MS, PcmFramer, downmix, floatToS16, s16ToLeBytes, samplesPerFrame } from "./pcm.js";
export { CLIENT_SAMPLER_TOLERANCE_RATIO } from "./rate-gate.js";
export {
  AuthError,
  REFUSED_UPGRADE_STATUSES,
  browserSocketFactory,
  nodeSocketFactory,
  streamUrl,
  tokenClaims,
  type SocketFactory,
  type WebSocketLike,
} from "./socket.js";
