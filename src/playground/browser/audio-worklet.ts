/**
 * AudioWorklet processor "pcm-framer": mixes the microphone to mono, converts to s16 and posts
 * 20 ms frames (Int16Array, transferred) to the page, which sends them as AudioFrames.
 * Runs in the AudioWorkletGlobalScope, whose globals the DOM lib does not declare.
 */
import { AUDIO_FRAME_MS, PcmFramer, downmix, samplesPerFrame } from "../../client/pcm.js";

declare const sampleRate: number;
declare function registerProcessor(name: string, processor: new () => AudioWorkletProcessorLike): void;
interface AudioWorkletProcessorLike {
  readonly port: MessagePort;
  process(inputs: Float32Array[][]): boolean;
}
declare const AudioWorkletProcessor: new () => { readonly port: MessagePort };

class PcmFramerProcessor extends AudioWorkletProcessor implements AudioWorkletProcessorLike {
  readonly #framer = new PcmFramer(samplesPerFrame(sampleRate, AUDIO_FRAME_MS));

  process(inputs: Float32Array[][]): boolean {
    const channels = inputs[0];
    if (channels && channels.length > 0) {
      for (const frame of this.#framer.push(downmix(channels))) this.port.postMessage(frame, [frame.buffer]);
    }
    return true;
  }
}

registerProcessor("pcm-framer", PcmFramerProcessor);
