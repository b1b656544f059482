/**
 * Before the LiveKit tests: the pinned livekit-server exists (built once with `go install`, which
 * can take minutes the first time; a clear error when Go is missing).
 */
import { liveKitServerBinary } from "./livekit-server.js";

export default function setup(): void {
  liveKitServerBinary();
}
