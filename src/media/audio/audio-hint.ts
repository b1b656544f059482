/**
 * The `audio` hint of one connection (docs/DESIGN.md §5): after a chunk is sent upstream the service
 * discards that connection's speech for the audio interval (AUDIO_INTERVAL_S, ./chunker.ts), so it
 * tells the client not to send any (`wanted: false` until then) and, once the pause is over, that
 * it wants speech again (`wanted: true`). Clients that honour it send no audio while it is false.
 *
 * The change is reported when it is polled, on the connection's next message: a client streaming
 * video hears `wanted: true` within a frame of the deadline, and a client that heard nothing
 * resumes on its own after `resume_in_ms` (its own clock, so clock skew never withholds speech).
 * No timer: nothing here keeps the object awake. Pure.
 *
 * While an on-demand check waits for its speech chunk (docs/DESIGN.md §13), speech is wanted even
 * inside the pause (`checkWaiting`); the check's chunk starts a new pause.
 */
import type { AudioHintEvent } from "../../protocol/events.js";

export class AudioHint {
  readonly #intervalMs: number;
  /** Speech is not wanted before this instant (the service's clock). */
  #untilMs = 0;
  /** What the client was last told: wanted until told otherwise. */
  #told = true;
  #checkWaiting = false;

  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs;
  }

  /** Whether speech is wanted at `nowMs`. */
  wanted(nowMs: number): boolean {
    return this.#checkWaiting || nowMs >= this.#untilMs;
  }

  /** A check waits for speech (true) or got its chunk or ended (false). */
  checkWaiting(on: boolean): void {
    this.#checkWaiting = on;
  }

  /** A chunk of this connection went upstream at `nowMs`: the interval's pause starts. */
  chunkSent(nowMs: number): void {
    if (this.#intervalMs > 0) this.#untilMs = Math.max(this.#untilMs, nowMs + this.#intervalMs);
  }

  /** The event to send now, when the wanted state differs from what the client was last told. */
  poll(nowMs: number): AudioHintEvent | null {
    const wanted = this.wanted(nowMs);
    if (wanted === this.#told) return null;
    this.#told = wanted;
    return wanted
      ? { type: "audio", wanted: true, until_ms: 0, resume_in_ms: 0 }
      : { type: "audio", wanted: false, until_ms: this.#untilMs, resume_in_ms: this.#untilMs - nowMs };
  }
}
