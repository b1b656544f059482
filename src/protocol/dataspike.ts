/**
 * The Dataspike wire format (docs/DESIGN.md §3): one FrameRequest per binary message out, one ResultEvent
 * per binary message in. Wraps the generated static protobuf code.
 */
import "./proto-runtime.js";
import { deepfake_streaming } from "../gen/dataspike.js";
import type { ResultKind } from "./levels.js";

const Schema = deepfake_streaming.DeepfakeStreamingSchema;
export const FrameFormat = Schema.FrameRequestFormat;
export type FrameFormat = deepfake_streaming.DeepfakeStreamingSchema.FrameRequestFormat;

export interface FrameRequestFields {
  participantId: string;
  trackId: string;
  timestampMs: number;
  format: FrameFormat;
  data: Uint8Array;
}

export function encodeFrameRequest(fields: FrameRequestFields): Uint8Array {
  return Schema.FrameRequest.encode(fields).finish();
}

export function decodeFrameRequest(bytes: Uint8Array): FrameRequestFields {
  const m = Schema.FrameRequest.decode(bytes);
  return {
    participantId: m.participantId,
    trackId: m.trackId,
    timestampMs: Number(m.timestampMs),
    format: m.format,
    data: m.data,
  };
}

export interface ResultEventFields {
  kind: ResultKind;
  participantId: string;
  trackId: string;
  message: string;
}

const KINDS: Record<number, ResultKind> = {
  [Schema.ResultEventType.UNKNOWN]: "unknown",
  [Schema.ResultEventType.SUSPICIOUS]: "suspicious",
  [Schema.ResultEventType.CLEAR]: "clear",
  [Schema.ResultEventType.ERROR]: "error",
  [Schema.ResultEventType.ALERT]: "alert",
};

/** Decodes a ResultEvent; an enum value this build does not know counts as "unknown". Throws on garbage. */
export function decodeResultEvent(bytes: Uint8Array): ResultEventFields {
  const m = Schema.ResultEvent.decode(bytes);
  return { kind: KINDS[m.type] ?? "unknown", participantId: m.participantId, trackId: m.trackId, message: m.message };
}

export function encodeResultEvent(fields: ResultEventFields): Uint8Array {
  const type = Number(Object.entries(KINDS).find(([, kind]) => kind === fields.kind)?.[0] ?? 0);
  return Schema.ResultEvent.encode({
    type,
    participantId: fields.participantId,
    trackId: fields.trackId,
    message: fields.message,
  }).finish();
}
