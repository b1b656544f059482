/**
 * Reading a subscribed LiveKit track: every decoded frame of a camera track, and the microphone as
 * 16 kHz mono PCM in 100 ms frames (resampled by LiveKit's native code, so each message carries a
 * third of the bytes of 48 kHz and the service need not resample). A pump runs until the track ends
 * or stop() is called.
 */
import { AudioStream, VideoStream, type AudioFrame, type RemoteTrack, type VideoFrame } from "@livekit/rtc-node";

export const AUDIO_RATE_HZ = 16_000;
export const AUDIO_FRAME_MS = 100;

export interface Pump {
  /** Resolves when the stream ended (track gone) or was stopped. */
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

function pump<T>(stream: ReadableStream<T>, onItem: (item: T) => void, onError: (err: Error) => void): Pump {
  const reader = stream.getReader();
  let stopped = false;
  const done = (async () => {
    try {
      for (;;) {
        const { value, done: ended } = await reader.read();
        if (ended || stopped) return;
        onItem(value);
      }
    } catch (err) {
      if (!stopped) onError(err as Error);
    } finally {
      reader.releaseLock();
    }
  })();
  return {
    done,
    async stop() {
      if (stopped) return done;
      stopped = true;
      await reader.cancel().catch(() => undefined);
      return done;
    },
  };
}

type OnError = (err: Error) => void;

export function pumpVideo(track: RemoteTrack, onFrame: (frame: VideoFrame) => void, onError: OnError): Pump {
  return pump(new VideoStream(track), (event) => onFrame(event.frame), onError);
}

export function pumpAudio(track: RemoteTrack, onFrame: (frame: AudioFrame) => void, onError: OnError): Pump {
  const stream = new AudioStream(track, { sampleRate: AUDIO_RATE_HZ, numChannels: 1, frameSizeMs: AUDIO_FRAME_MS });
  return pump(stream, onFrame, onError);
}
