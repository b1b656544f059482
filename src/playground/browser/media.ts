/**
 * Camera and microphone for the playground.
 *
 * Video goes as JPEG encoded by the browser from a canvas by default (pass-through on the server): a
 * 640x480 JPEG is ~20-60 KB against 1.2 MB of raw RGBA (20-60x less uplink, which matters on a
 * phone), and the Worker skips its WASM encode. "Raw RGBA" sends the canvas pixels as they are,
 * the way a browser integration without an encoder would, and the Worker encodes them. Frames are
 * drawn and encoded only when the SDK says one is due at the announced rate.
 *
 * Audio goes through an AudioWorklet that posts 20 ms s16 mono frames at the context's rate.
 */

/** Largest frame side we capture; the canvas keeps the camera's aspect ratio. */
const MAX_FRAME_WIDTH = 640;
const JPEG_QUALITY = 0.85;

export interface Camera {
  stream: MediaStream;
  /** Draws the current camera image and encodes it as JPEG. */
  grabJpeg(): Promise<{ data: Uint8Array; width: number; height: number }>;
  /** Draws the current camera image and returns its RGBA pixels (width x height x 4 bytes). */
  grabRgba(): { data: Uint8Array; width: number; height: number };
  stop(): void;
}

export async function openCamera(video: HTMLVideoElement, canvas: HTMLCanvasElement): Promise<Camera> {
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "user" },
    audio: false,
  });
  video.srcObject = stream;
  await video.play().catch(() => undefined); // autoplay + muted: play() may still be refused; frames flow anyway
  const context = canvas.getContext("2d", { willReadFrequently: true });
  if (!context) throw new Error("no 2D canvas context");
  const draw = (): { width: number; height: number } => {
    const vw = video.videoWidth || 640;
    const vh = video.videoHeight || 480;
    const scale = Math.min(1, MAX_FRAME_WIDTH / vw);
    const width = Math.max(16, Math.round(vw * scale));
    const height = Math.max(16, Math.round(vh * scale));
    if (canvas.width !== width) canvas.width = width;
    if (canvas.height !== height) canvas.height = height;
    context.drawImage(video, 0, 0, width, height);
    return { width, height };
  };
  return {
    stream,
    async grabJpeg() {
      const { width, height } = draw();
      const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, "image/jpeg", JPEG_QUALITY));
      if (!blob) throw new Error("the canvas could not be encoded as JPEG");
      return { data: new Uint8Array(await blob.arrayBuffer()), width, height };
    },
    grabRgba() {
      const { width, height } = draw();
      const pixels = context.getImageData(0, 0, width, height).data;
      return { data: new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength), width, height };
    },
    stop() {
      for (const track of stream.getTracks()) track.stop();
      video.srcObject = null;
    },
  };
}

export interface Microphone {
  sampleRate: number;
  stop(): Promise<void>;
}

/** Starts the mic; `onFrame` receives 20 ms s16 mono frames at `sampleRate`. Call from a user gesture. */
export async function openMicrophone(onFrame: (samples: Int16Array, sampleRate: number) => void): Promise<Microphone> {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    video: false,
  });
  let context = new AudioContext();
  if (context.sampleRate > 48_000) {
    // AudioFrame accepts 8-48 kHz: let the browser resample.
    await context.close();
    context = new AudioContext({ sampleRate: 48_000 });
  }
  try {
    await context.audioWorklet.addModule("/playground/audio-worklet.js");
    const source = context.createMediaStreamSource(stream);
    const node = new AudioWorkletNode(context, "pcm-framer", { numberOfInputs: 1, numberOfOutputs: 0 });
    const rate = context.sampleRate;
    node.port.onmessage = (event: MessageEvent<unknown>) => {
      if (event.data instanceof Int16Array) onFrame(event.data, rate);
    };
    source.connect(node);
    await context.resume();
    return {
      sampleRate: rate,
      async stop() {
        node.port.onmessage = null;
        source.disconnect();
        for (const track of stream.getTracks()) track.stop();
        await context.close();
      },
    };
  } catch (err) {
    for (const track of stream.getTracks()) track.stop();
    await context.close();
    throw err;
  }
}
