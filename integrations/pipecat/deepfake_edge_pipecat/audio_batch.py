"""Joins consecutive audio frames into fewer, longer AudioFrame messages.

The service's cost is per message as much as per byte: Pipecat transports deliver 10-20 ms frames,
and a 20 ms message costs the service's runtime about as much as a 100 ms one. Audio is gathered into
3 s chunks upstream, so 100 ms of batching delays nothing anyone sees. A batch holds frames of one
track, rate and channel count, in order, and never more than 1 s (the service's limit per frame);
its timestamp is its first frame's. Pure: the processor owns the timer.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Default batch length (``DeepfakeEdgeProcessor(audio_batch_ms=...)``).
AUDIO_BATCH_MS = 100
#: The service answers longer audio frames with ``bad_audio``.
MAX_AUDIO_FRAME_MS = 1000


@dataclass(frozen=True, slots=True)
class AudioStream:
    track_id: str
    sample_rate: int
    channels: int

    def ms(self, nbytes: int) -> float:
        return nbytes / (2 * self.channels) / self.sample_rate * 1000


@dataclass(frozen=True, slots=True)
class AudioBatch:
    stream: AudioStream
    timestamp_ms: int
    data: bytes


class AudioBatcher:
    def __init__(self, batch_ms: int = AUDIO_BATCH_MS) -> None:
        if not 0 <= batch_ms <= MAX_AUDIO_FRAME_MS:
            raise ValueError(f"audio_batch_ms must be between 0 and {MAX_AUDIO_FRAME_MS}, got {batch_ms}")
        self.batch_ms = batch_ms
        self._stream: AudioStream | None = None
        self._timestamp_ms = 0
        self._parts: list[bytes] = []
        self._bytes = 0

    @property
    def pending_ms(self) -> float:
        return self._stream.ms(self._bytes) if self._stream is not None else 0.0

    @property
    def pending_frames(self) -> int:
        return len(self._parts)

    def push(self, stream: AudioStream, timestamp_ms: int, data: bytes) -> list[AudioBatch]:
        """Takes one valid frame (at most 1 s); returns the batches now due, oldest first."""
        out: list[AudioBatch] = []
        too_long = self._stream is not None and stream.ms(self._bytes + len(data)) > MAX_AUDIO_FRAME_MS
        if self._stream is not None and (self._stream != stream or too_long):
            out.extend(self.flush())
        if self._stream is None:
            self._stream, self._timestamp_ms = stream, timestamp_ms
        self._parts.append(bytes(data))
        self._bytes += len(data)
        if self.pending_ms >= self.batch_ms:
            out.extend(self.flush())
        return out

    def flush(self) -> list[AudioBatch]:
        """Everything pending, as one batch (none when empty)."""
        if self._stream is None:
            return []
        batch = AudioBatch(self._stream, self._timestamp_ms, b"".join(self._parts))
        self.discard()
        return [batch]

    def discard(self) -> int:
        """Forgets the pending frames; returns how many there were."""
        n = len(self._parts)
        self._stream, self._parts, self._bytes = None, [], 0
        return n
