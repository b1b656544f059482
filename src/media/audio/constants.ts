/**
 * Audio limits and defaults (DESIGN.md §3, §4), with units in their names. Pure: no Workers imports.
 */

/** Upstream PCM rate, fixed by the Dataspike API. */
export const AUDIO_SAMPLE_RATE_HZ = 16_000;
/** Samples (not bytes) per upstream PCM message: 3 s at 16 kHz. */
export const AUDIO_CHUNK_SAMPLES = 48_000;
/** Bytes per upstream PCM message: s16le mono. */
export const AUDIO_CHUNK_BYTES = AUDIO_CHUNK_SAMPLES * 2;
/** When speech ends, a remainder of at least this many samples (1 s) is zero-padded and sent; less is dropped. */
export const AUDIO_MIN_FLUSH_SAMPLES = 16_000;
/** Default minimum time between two chunks sent upstream; 0 means no limit. */
export const AUDIO_INTERVAL_S = 60;

/** Accepted client input rates (AudioFrame.sample_rate). */
export const AUDIO_MIN_INPUT_RATE_HZ = 8_000;
export const AUDIO_MAX_INPUT_RATE_HZ = 48_000;
/** Mono or interleaved stereo. */
export const AUDIO_MAX_CHANNELS = 2;
/** Longest audio a single AudioFrame may carry. */
export const AUDIO_MAX_FRAME_MS = 1_000;
/** Distinct audio tracks per participant (each has its own resampler, gate and chunk buffer). */
export const AUDIO_MAX_TRACKS = 4;

/** Cloudflare Realtime SFU WebSocket adapter PCM (`outputCodec: "pcm"`): s16le, 48 kHz, stereo interleaved. */
export const SFU_AUDIO_SAMPLE_RATE_HZ = 48_000;
export const SFU_AUDIO_CHANNELS = 2;

/** Resampler: Kaiser-windowed sinc designed for this stop-band attenuation. */
export const RESAMPLER_STOPBAND_DB = 80;
/** Resampler transition band as a share of the lower Nyquist rate; the stop band starts at that Nyquist rate. */
export const RESAMPLER_TRANSITION_RATIO = 0.15;
/** Rate pairs needing more polyphase rows than this use an interpolated table of RESAMPLER_TABLE_PHASES rows. */
export const RESAMPLER_MAX_EXACT_PHASES = 1_024;
export const RESAMPLER_TABLE_PHASES = 256;

/** Built-in voice gate: analysis window of the 16 kHz signal (20 ms). */
export const VAD_WINDOW_SAMPLES = 320;
/** A window is loud when its level is this far above the noise floor (and above VAD_MIN_START_DBFS). */
export const VAD_START_MARGIN_DB = 12;
/** While speaking, a window is quiet when its level is below floor + this (or below VAD_MIN_STOP_DBFS). */
export const VAD_STOP_MARGIN_DB = 6;
/** Absolute levels below which a window never counts as loud / always counts as quiet. */
export const VAD_MIN_START_DBFS = -45;
export const VAD_MIN_STOP_DBFS = -50;
/** Consecutive loud windows needed to open the gate (80 ms): a click shorter than 60 ms never opens it. */
export const VAD_START_WINDOWS = 4;
/** Consecutive quiet windows before the gate closes (hangover, 400 ms). */
export const VAD_HANGOVER_WINDOWS = 20;
/** The first window seeds the noise floor, but never above this level. */
export const VAD_INITIAL_FLOOR_MAX_DBFS = -50;
/** Level reported for digital silence. */
export const VAD_SILENCE_DBFS = -100;
