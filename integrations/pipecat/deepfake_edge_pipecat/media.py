"""The processor's outgoing media: what it queues from the pipeline, and how it is encoded to send.

Observing a frame never waits: a due camera frame or a batch of audio goes into the bounded send
buffer by reference. The connection's send task takes items out and encodes them there (a raw image
becomes a JPEG in a worker thread, so the event loop that runs the pipeline never waits on Pillow).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from loguru import logger
from pipecat.frames.frames import InputAudioRawFrame, InputImageRawFrame

from ._proto import ingest_pb2 as pb
from .audio_batch import AudioBatch, AudioBatcher, AudioStream
from .frames import (
    MAX_AUDIO_FRAME_SECONDS,
    audio_message,
    audio_problem,
    downscale,
    encode_jpeg,
    hello_message,
    is_camera_source,
    pixel_format,
    speaking_message,
    video_message,
)
from .send_buffer import Outgoing, SendBuffer

#: How often a WebRTC connection without an input track yet is asked again for one.
TRACK_RETRY_S = 5.0


class MediaOut:
    def __init__(
        self, owner: Any, encoding: str, max_frame_bytes: int, audio_batch_ms: int, max_items: int, max_bytes: int
    ) -> None:
        self._owner = owner  # the processor: its stats, rate gate and warnings
        self._stats: dict[str, int] = owner._stats
        self.encoding = encoding
        self._max_frame_bytes = max_frame_bytes
        self.buffer = SendBuffer(max_items, max_bytes)
        self._audio = AudioBatcher(audio_batch_ms)
        self._audio_timer: asyncio.TimerHandle | None = None
        self.webrtc: Any = None
        self._track_ids: dict[str, tuple[str | None, float]] = {}

    # ---- in, from the pipeline --------------------------------------------------------------

    def video(self, frame: InputImageRawFrame, ready: bool) -> None:
        if not is_camera_source(frame.transport_source):
            self._stats["screen_frames_skipped"] += 1
            return
        self._stats["video_frames_seen"] += 1
        if not ready:
            self._stats["dropped_disconnected"] += 1
            return
        fmt, problem = pixel_format(frame.image, frame.size, frame.format)
        if fmt is None:
            self._stats["video_frames_unsupported"] += 1
            self._owner._warn_once(f"format-{frame.format}", f"deepfake-edge: {problem}")
            return
        track_id = self._track_id("video", frame.transport_source or "camera")
        if not self._owner._gate.take(track_id, time.monotonic()):
            self._stats["video_frames_rate_limited"] += 1
            return
        self._enqueue(Outgoing("video", (frame, track_id, fmt, int(time.time() * 1000)), len(frame.image)))

    def audio(self, frame: InputAudioRawFrame) -> None:
        rate, channels, data = frame.sample_rate, frame.num_channels, frame.audio
        problem = audio_problem(rate, channels, len(data))
        if problem is not None:
            self._stats["audio_frames_unsupported"] += 1
            self._owner._warn_once("audio-format", f"deepfake-edge: {problem}")
            return
        stream = AudioStream(self._track_id("audio", frame.transport_source or "microphone"), rate, channels)
        timestamp_ms = int(time.time() * 1000)
        piece = int(rate * MAX_AUDIO_FRAME_SECONDS) * 2 * channels
        for start in range(0, len(data), piece):
            for batch in self._audio.push(stream, timestamp_ms, data[start : start + piece]):
                self._enqueue_audio(batch)
        if self._audio.pending_frames == 0:
            self._cancel_audio_timer()
        elif self._audio_timer is None:
            self._audio_timer = asyncio.get_running_loop().call_later(self._audio.batch_ms / 1000, self.flush_audio)

    def speaking(self, speaking: bool, open_: bool) -> None:
        self.flush_audio()  # the audio before the marker goes before it
        if open_:
            self._enqueue(Outgoing("control", ("speaking", speaking_message(speaking)), 4))

    def opening(self, client: str, vad: bool, speaking: bool) -> list[tuple[str, bytes]]:
        """Hello first; with pipeline VAD and speech in progress, Speaking(true) right after it."""
        out = [("control", hello_message(client, vad))]
        if vad and speaking:
            out.append(("speaking", speaking_message(True)))
        return out

    def flush_audio(self) -> None:
        """Sends the pending batch now (its timer fired, or a Speaking message must follow it)."""
        self._cancel_audio_timer()
        for batch in self._audio.flush():
            self._enqueue_audio(batch)

    def discard_audio(self) -> int:
        self._cancel_audio_timer()
        return self._audio.discard()

    def clear(self) -> int:
        """The socket went away (or the processor stops): everything pending is dropped; returns how much."""
        return self.buffer.clear() + self.discard_audio()

    # ---- out, to the socket -----------------------------------------------------------------

    async def next_message(self, jpeg_quality: int) -> tuple[str, bytes] | None:
        item = await self.buffer.get()
        if item.kind == "control":
            return item.payload
        if item.kind == "audio":
            return "audio", audio_message(*item.payload)
        data = await self._encode_video(item.payload, jpeg_quality)
        return None if data is None else ("video", data)

    async def _encode_video(self, payload: tuple, quality: int) -> bytes | None:
        frame, track_id, fmt, timestamp_ms = payload
        width, height = frame.size
        data = frame.image if isinstance(frame.image, bytes) else bytes(frame.image)
        if fmt == pb.JPEG:
            if len(data) > self._max_frame_bytes:
                self._stats["video_frames_unsupported"] += 1
                return None
            return video_message(track_id, width, height, fmt, timestamp_ms, data)
        if len(data) > self._max_frame_bytes:
            data, width, height = downscale(data, width, height, 3 if fmt == pb.RGB24 else 4, self._max_frame_bytes)
            self._stats["video_frames_downscaled"] += 1
        if self.encoding == "jpeg":
            data = await asyncio.to_thread(encode_jpeg, data, width, height, fmt, quality)
            fmt = pb.JPEG
            self._stats["video_frames_encoded"] += 1
        return video_message(track_id, width, height, fmt, timestamp_ms, data)

    # ---- helpers ----------------------------------------------------------------------------

    def _track_id(self, kind: str, fallback: str) -> str:
        """The WebRTC connection's input track id when one was given (as the reference sent), else the source."""
        if self.webrtc is None:
            return fallback
        known, asked_at = self._track_ids.get(kind, (None, 0.0))
        now = time.monotonic()
        if known is None and now - asked_at >= TRACK_RETRY_S:
            try:
                track = self.webrtc.video_input_track() if kind == "video" else self.webrtc.audio_input_track()
                track_id = getattr(track, "id", None) if track is not None else None
                known = track_id if _valid_track_id(track_id) else None
            except Exception as err:  # a connection that is closing, or another transport's
                logger.debug(f"deepfake-edge: no {kind} input track from the WebRTC connection: {err!r}")
            self._track_ids[kind] = (known, now)
        return known or fallback

    def control(self, kind: str, message: bytes) -> None:
        """A control message (never dropped for media), e.g. an on-demand ``Check``."""
        self._enqueue(Outgoing("control", (kind, message), len(message)))

    def _enqueue(self, item: Outgoing) -> None:
        dropped = self.buffer.put(item)
        if dropped:
            self._stats["dropped_buffer_full"] += dropped
            message = "deepfake-edge: the socket is slower than the media; dropping the oldest frames"
            self._owner._warn_once("buffer-full", message)

    def _enqueue_audio(self, batch: AudioBatch) -> None:
        s = batch.stream
        payload = (s.track_id, s.sample_rate, s.channels, batch.timestamp_ms, batch.data)
        self._enqueue(Outgoing("audio", payload, len(batch.data)))

    def _cancel_audio_timer(self) -> None:
        if self._audio_timer is not None:
            self._audio_timer.cancel()
            self._audio_timer = None


def _valid_track_id(track_id: object) -> bool:
    """What the service accepts as a track id: 1-128 printable ASCII characters without spaces."""
    return (
        isinstance(track_id, str)
        and 0 < len(track_id) <= 128
        and track_id.isascii()
        and track_id.isprintable()
        and " " not in track_id
    )
