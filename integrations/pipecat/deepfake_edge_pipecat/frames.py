"""Frame handling: which Pipecat frames are sent, and in what form.

- camera video only (``transport_source`` ``"camera"``, or none), never screen share;
- raw RGB/RGBA images become a JPEG the bot encodes itself (Pillow, at the deployment's quality),
  about 30 KB at 640x480 instead of 921 KB raw; raw frames stay available (``video_encoding="raw"``);
- audio as the frames' own s16le PCM, split into pieces of at most 1 s (the service's limit);
- speaking frames gate the audio when the pipeline produces them (``SpeechGate``).
"""

from __future__ import annotations

import io
import math
from typing import Any

from ._proto import ingest_pb2 as pb

#: The largest raw frame the service accepts by default: 1920x1080 RGBA (its message cap is that plus
#: 64 KiB of framing). Larger frames are downscaled by an integer factor first.
DEFAULT_MAX_FRAME_BYTES = 1920 * 1080 * 4
#: JPEG quality when the service does not announce its own (the service's default).
DEFAULT_JPEG_QUALITY = 75
#: An audio frame may hold at most 1 s (the service answers longer ones with ``bad_audio``).
MAX_AUDIO_FRAME_SECONDS = 1.0
VIDEO_ENCODINGS = ("jpeg", "raw")


def is_camera_source(source: str | None) -> bool:
    """Pipecat's transports name sources "camera" and "screenVideo"; frames with no source count as camera."""
    if source is None:
        return True
    if "screen" in source.lower():
        return False
    return source == "camera"


def pixel_format(image: bytes, size: tuple[int, int], fmt: str | None) -> tuple[int | None, str | None]:
    """The protobuf PixelFormat of a frame's image, or (None, why it is not sendable)."""
    width, height = size
    n = len(image)
    fmt = (fmt or "").upper()
    if fmt in ("JPEG", "JPG"):
        return pb.JPEG, None
    if fmt == "RGB" or (fmt == "" and n == width * height * 3):
        expected, result = width * height * 3, pb.RGB24
    elif fmt == "RGBA" or (fmt == "" and n == width * height * 4):
        expected, result = width * height * 4, pb.RGBA
    else:
        return None, f"image format {fmt!r} is not sent (RGB, RGBA or JPEG)"
    if n != expected or width <= 0 or height <= 0:
        return None, f"image of {n} bytes does not match {width}x{height} {fmt or 'raw'}; not sent"
    return result, None


def encode_jpeg(data: bytes, width: int, height: int, pixel_format_: int, quality: int) -> bytes:
    """A raw RGB24/RGBA image as a baseline JPEG at ``quality`` (0-100), full size."""
    from PIL import Image

    mode = "RGB" if pixel_format_ == pb.RGB24 else "RGBA"
    image = Image.frombuffer(mode, (width, height), data, "raw", mode, 0, 1)
    if mode == "RGBA":
        image = image.convert("RGB")
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=max(0, min(100, int(quality))))
    return out.getvalue()


def downscale(data: bytes, width: int, height: int, channels: int, max_bytes: int) -> tuple[bytes, int, int]:
    """Keeps every k-th pixel in both directions, with the smallest k that fits max_bytes."""
    import numpy as np

    factor = max(2, math.ceil(math.sqrt(len(data) / max_bytes)))
    while math.ceil(width / factor) * math.ceil(height / factor) * channels > max_bytes:
        factor += 1
    image = np.frombuffer(data, dtype=np.uint8).reshape(height, width, channels)[::factor, ::factor]
    small = np.ascontiguousarray(image)
    return small.tobytes(), small.shape[1], small.shape[0]


def video_message(
    track_id: str, width: int, height: int, pixel_format_: int, timestamp_ms: int, data: bytes
) -> bytes:
    video = pb.VideoFrame(
        track_id=track_id,
        width=width,
        height=height,
        format=pixel_format_,
        source=pb.CAMERA,
        timestamp_ms=timestamp_ms,
        data=data,
    )
    return pb.ClientMessage(video=video).SerializeToString()


def audio_message(track_id: str, rate: int, channels: int, timestamp_ms: int, data: bytes) -> bytes:
    audio = pb.AudioFrame(track_id=track_id, sample_rate=rate, channels=channels, timestamp_ms=timestamp_ms, data=data)
    return pb.ClientMessage(audio=audio).SerializeToString()


def speaking_message(speaking: bool) -> bytes:
    return pb.ClientMessage(speaking=pb.Speaking(speaking=speaking)).SerializeToString()


def hello_message(client: str, vad: bool) -> bytes:
    return pb.ClientMessage(hello=pb.Hello(client=client, vad=vad, honors_rate=True)).SerializeToString()


def audio_problem(rate: Any, channels: Any, nbytes: int) -> str | None:
    """Why an audio frame cannot be sent, or None."""
    if not isinstance(rate, int) or not 8000 <= rate <= 48000 or channels not in (1, 2) or nbytes % (2 * channels):
        return (
            f"audio of {rate} Hz, {channels} channel(s), {nbytes} bytes is not sendable "
            "(8-48 kHz, 1-2 channels, whole s16le samples); such audio is not sent"
        )
    return None


class SpeechGate:
    """Who decides when the participant speaks: the pipeline's speaking frames, or the service's gate.

    ``client_vad=True``: speaking frames decide from the start (``Hello.vad``), audio outside speech
    is not sent. ``False``: all audio is sent and the service's voice gate decides. ``"auto"``
    (default): like False until the pipeline produces its first speaking frame, then like True, so
    a pipeline without a VAD still gets its speech checked and one with a VAD sends no silence.
    """

    def __init__(self, client_vad: bool | str) -> None:
        if client_vad not in (True, False, "auto"):
            raise ValueError(f"client_vad must be True, False or 'auto', got {client_vad!r}")
        self.mode = client_vad
        self.speaking = False
        self._seen_speaking_frames = False

    @property
    def pipeline_decides(self) -> bool:
        """True when speaking frames gate the audio (what ``Hello.vad`` says)."""
        return self.mode is True or (self.mode == "auto" and self._seen_speaking_frames)

    @property
    def decider(self) -> str:
        """``"pipeline"`` (speaking frames) or ``"service"`` (its voice gate), for stats and logs."""
        return "pipeline" if self.pipeline_decides else "service"

    def admits_audio(self) -> bool:
        return self.speaking or not self.pipeline_decides

    def speaking_frame(self, speaking: bool) -> tuple[bool, bool]:
        """A speaking frame: returns (state changed, the pipeline just started deciding)."""
        started = self.mode == "auto" and not self._seen_speaking_frames
        if self.mode is not False:
            self._seen_speaking_frames = True
        changed = speaking != self.speaking
        self.speaking = speaking
        return changed, started
