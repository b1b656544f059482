"""The drop-in for bots written against the Dataspike reference (docs/DESIGN.md §10).

A bot changes its imports and nothing else::

    -from deepfake import DataspikeDeepfakeProcessor, VideoParams, AudioParams
    -from schema_pb2 import DeepfakeStreamingSchemaResultEvent, EventType
    +from deepfake_edge_pipecat.compat import (
    +    AudioParams, DataspikeDeepfakeProcessor, DeepfakeStreamingSchemaResultEvent, EventType, VideoParams,
    +)

and points at the service with ``DEEPFAKE_EDGE_URL`` (plus ``DEEPFAKE_EDGE_TOKEN``, a connect token with
scope ``stream`` minted by the bot's backend, in production). What the reference's users relied on
holds:

- the constructor takes the reference's keywords; an unknown one is a TypeError;
- ``notification_cb`` is called when the reference called it, on entering ALERT and on ALERT -> CLEAR,
  with an event whose ``.type`` is ``EventType.ALERT`` / ``EventType.CLEAR`` (the reference's enum
  values) and whose ``.participant_id`` and ``.track_id`` are the ones the bot set and saw;
- ``processor.state`` is the detection level as an ``EventType``;
- ``VideoParams`` / ``AudioParams`` become this connection's limits: they can lower the deployment's
  rates, quality and audio pace, never raise them (a value the service cannot honour is logged once).
"""

from __future__ import annotations

import enum
import inspect
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from loguru import logger

from .alert import DeepfakeAlert
from .processor import DeepfakeEdgeProcessor

__all__ = [
    "AudioParams",
    "DataspikeDeepfakeProcessor",
    "DeepfakeEvent",
    "DeepfakeStreamingSchemaResultEvent",
    "EventType",
    "VideoParams",
]

#: The Dataspike API's fixed audio format; the service resamples and chunks to it.
API_SAMPLE_RATE = 16_000
API_SAMPLE_SIZE = 48_000


class EventType(enum.IntEnum):
    """The reference's ``DeepfakeStreamingSchemaResultEventType``, same names and values."""

    UNKNOWN = 0
    SUSPICIOUS = 1
    CLEAR = 2
    ERROR = 3
    ALERT = 4


_LEVEL_TYPES = {"clear": EventType.CLEAR, "suspicious": EventType.SUSPICIOUS, "alert": EventType.ALERT}


@dataclass
class VideoParams:
    """The reference's video settings: here this connection's limits (lower only)."""

    burst_fps: float = 1
    normal_fps: float = 0.2
    quality: int = 75


@dataclass
class AudioParams:
    """The reference's audio settings. ``interval`` can lengthen the pause between audio chunks;
    ``sample_rate`` and ``sample_size`` are fixed by the API (the service resamples and chunks)."""

    sample_rate: int = API_SAMPLE_RATE
    sample_size: int = API_SAMPLE_SIZE
    interval: int = 60


@dataclass(frozen=True)
class DeepfakeEvent:
    """What ``notification_cb`` receives: the reference's event fields, plus the service's event.

    ``alert`` is the full transition (``DeepfakeAlert``: id, level, previous level, reason,
    simulated), or None when the level moved while the processor was disconnected.
    """

    type: EventType
    participant_id: str
    track_id: str
    message: str
    timestamp_ms: int
    alert: DeepfakeAlert | None = None


#: The reference's name for its event type, for bots that annotate their handler with it.
DeepfakeStreamingSchemaResultEvent = DeepfakeEvent

CompatCallback = Callable[[DeepfakeEvent], Awaitable[None] | None]


class DataspikeDeepfakeProcessor(DeepfakeEdgeProcessor):
    """The reference's processor, streaming to a deepfake-edge service instead of the Dataspike API.

    Args:
        api_key: Accepted for the reference's bots and not used: the Dataspike key belongs to the
            service (``wrangler secret put DATASPIKE_API_KEY``); it never leaves the bot.
        session: An aiohttp session (optional here); the processor never closes it.
        video_params / audio_params: This connection's limits (see ``VideoParams``, ``AudioParams``).
        notification_cb: Called on entering ALERT and on ALERT -> CLEAR, as the reference did.
        base_url / token / admin_key: Default to ``DEEPFAKE_EDGE_URL``, ``DEEPFAKE_EDGE_TOKEN`` and
            ``DEEPFAKE_EDGE_ADMIN_KEY``. Prefer a token minted by the bot's backend to the admin key.
        client_vad / video_encoding: As ``DeepfakeEdgeProcessor``'s (``"auto"``, ``"jpeg"``).
    """

    def __init__(
        self,
        api_key: str | None = None,
        session: aiohttp.ClientSession | None = None,
        video_params: VideoParams | None = None,
        audio_params: AudioParams | None = None,
        notification_cb: CompatCallback | None = None,
        *,
        base_url: str | None = None,
        token: str | None = None,
        admin_key: str | None = None,
        client_vad: bool | str = "auto",
        video_encoding: str = "jpeg",
        name: str | None = None,
    ) -> None:
        video = VideoParams() if video_params is None else video_params
        audio = AudioParams() if audio_params is None else audio_params
        if not isinstance(video, VideoParams) or not isinstance(audio, AudioParams):
            raise TypeError("video_params must be a VideoParams and audio_params an AudioParams")
        url = base_url or os.getenv("DEEPFAKE_EDGE_URL")
        if not url:
            raise ValueError("DEEPFAKE_EDGE_URL must be set (the deepfake-edge service, e.g. http://127.0.0.1:8787)")
        super().__init__(
            url,
            token=token or os.getenv("DEEPFAKE_EDGE_TOKEN") or None,
            admin_key=admin_key or os.getenv("DEEPFAKE_EDGE_ADMIN_KEY") or None,
            session=session,
            client_vad=client_vad,
            video_encoding=video_encoding,
            normal_fps=video.normal_fps,
            burst_fps=video.burst_fps,
            jpeg_quality=video.quality,
            audio_interval_s=audio.interval,
            name=name,
            _tuning_source="VideoParams/AudioParams ",
        )
        self._compat_cb = notification_cb
        if api_key:
            logger.info("deepfake-edge: api_key is not used: the Dataspike key belongs to the service, not the bot")
        if (audio.sample_rate, audio.sample_size) != (API_SAMPLE_RATE, API_SAMPLE_SIZE):
            logger.warning(
                f"deepfake-edge: AudioParams sample_rate={audio.sample_rate}, sample_size={audio.sample_size} "
                f"cannot be honoured: the API takes {API_SAMPLE_SIZE} samples at {API_SAMPLE_RATE} Hz, "
                "and the service resamples and chunks to that"
            )

    @property
    def state(self) -> Any:
        """The participant's detection level, as the reference's ``EventType`` (CLEAR at first)."""
        return _LEVEL_TYPES[self.level]

    async def _deliver(self, previous: str, level: str, alert: DeepfakeAlert | None) -> None:
        """The reference's rule: notify on entering ALERT, and on ALERT -> CLEAR; nothing else."""
        if level == "alert" and previous != "alert":
            kind = EventType.ALERT
        elif level == "clear" and previous == "alert":
            kind = EventType.CLEAR
        else:
            return
        event = DeepfakeEvent(
            type=kind,
            participant_id=self.participant_id or "",
            track_id=alert.track_id if alert is not None else "",
            message=alert.message if alert is not None else f"{previous} -> {level} while disconnected",
            timestamp_ms=alert.timestamp_ms if alert is not None else int(time.time() * 1000),
            alert=alert,
        )
        if self._compat_cb is None:
            data = {
                "type": "deepfake_alert",
                "level": kind.name.lower(),
                "participant_id": event.participant_id,
                "track_id": event.track_id,
                "message": event.message,
                "timestamp_ms": event.timestamp_ms,
            }
            logger.warning(f"received notification: {data}")
            return
        result = self._compat_cb(event)
        if inspect.isawaitable(result):
            await result
