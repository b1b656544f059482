"""DeepfakeEdgeProcessor: a Pipecat FrameProcessor that streams a bot's media to deepfake-edge.

It stands in a pipeline where the reference's ``DataspikeDeepfakeProcessor`` stood (docs/DESIGN.md §10;
``deepfake_edge_pipecat.compat`` is that class's drop-in) and speaks the service's client protocol
(§5). Every frame is pushed downstream unchanged, at once: the processor only looks at frames and
puts references to the few it sends into a bounded buffer (drop-oldest, counted); JPEG encoding and
socket writes happen in a background task, so a slow or absent service never blocks the pipeline.
The parts: ``connection`` (socket, tokens, backoff), ``events`` (validated server events),
``frames`` (what is sent and how), ``tuning`` (the bot's own lower limits).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from loguru import logger
from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    InputImageRawFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from .alert import DeepfakeAlert
from .audio_batch import AUDIO_BATCH_MS
from .checks import CHECK_MAX_DURATION_S, CheckError, CheckWaiters, check_message
from .connection import Backoff, Connection, DeepfakeEdgeAuthError
from .dispatch import ServiceEvents
from .events import CheckCompleted, Ready
from .frames import DEFAULT_MAX_FRAME_BYTES, VIDEO_ENCODINGS, SpeechGate
from .media import MediaOut
from .participant import encode_participant_id
from .rate_gate import RateGate
from .tuning import Tuning

__all__ = ["DeepfakeEdgeProcessor", "DeepfakeEdgeAuthError", "NotificationCallback"]

NotificationCallback = Callable[[DeepfakeAlert], Awaitable[None] | None]

CLIENT_NAME = "deepfake-edge-pipecat/0.2.0"
_SPEAKING_FRAMES = {
    UserStartedSpeakingFrame: True,
    VADUserStartedSpeakingFrame: True,
    UserStoppedSpeakingFrame: False,
    VADUserStoppedSpeakingFrame: False,
}


class DeepfakeEdgeProcessor(ServiceEvents, FrameProcessor):
    """Sends a Pipecat bot's camera video, audio and speaking state to deepfake-edge.

    Args:
        base_url: The service, ``http(s)://`` or ``ws(s)://`` (e.g. ``http://127.0.0.1:8787``).
        token: A connect token (``Authorization: Bearer``), best minted by the bot's backend with
            scope ``stream``. Without one, ``admin_key`` mints one (scope ``stream``); with neither,
            the processor connects without a token (development mode on a loopback host).
        participant_id: The participant; may be set later with ``set_participant_id()``. An id the
            service does not accept is sent encoded and reported back as given (``participant``).
        notification_cb: Awaited with a ``DeepfakeAlert`` for every transition, in order. Without
            one, the event is logged as the reference's JSON line. Exceptions are logged and counted.
        client_vad: ``"auto"`` (default): the pipeline's speaking frames gate the audio once it
            produces them; until then all audio goes and the service's voice gate decides. True:
            speaking frames decide from the start. False: the service's voice gate always decides.
        video_encoding: ``"jpeg"`` (default): sampled raw frames are encoded here with Pillow at the
            deployment's quality. ``"raw"``: sent as RGB24/RGBA pixels (about 30 times the bytes).
        normal_fps / burst_fps: This connection's video rates in CLEAR/ALERT and SUSPICIOUS; they can
            lower the deployment's, never raise them (a value above is logged once).
        jpeg_quality: At most this JPEG quality (the deployment's applies when it is lower).
        audio_interval_s: At least this long between two audio chunks (the deployment's when longer).
        admin_key: The service's admin key, used only to mint connect tokens. Prefer ``token``.
        session: An aiohttp session to use; the processor never closes it.
        audio_batch_ms: Consecutive audio frames of a track are sent joined, this many ms to a message.
        The other arguments bound the send buffer and tune reconnects, timeouts and pings.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        participant_id: str | None = None,
        notification_cb: NotificationCallback | None = None,
        client_vad: bool | str = "auto",
        video_encoding: str = "jpeg",
        normal_fps: float | None = None,
        burst_fps: float | None = None,
        jpeg_quality: int | None = None,
        audio_interval_s: float | None = None,
        admin_key: str | None = None,
        session: aiohttp.ClientSession | None = None,
        token_ttl_s: int = 3600,
        max_buffer_items: int = 32,
        max_buffer_bytes: int = 8 * 1024 * 1024,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        reconnect_initial_s: float = 1.0,
        reconnect_max_s: float = 10.0,
        reconnect_jitter_ratio: float = 0.5,
        healthy_after_s: float = 10.0,
        connect_timeout_s: float = 10.0,
        heartbeat_s: float | None = 30.0,
        client_name: str = CLIENT_NAME,
        audio_batch_ms: int = AUDIO_BATCH_MS,
        name: str | None = None,
        _tuning_source: str = "",
    ) -> None:
        super().__init__(name=name)
        if video_encoding not in VIDEO_ENCODINGS:
            raise ValueError(f"video_encoding must be one of {VIDEO_ENCODINGS}, got {video_encoding!r}")
        self._notification_cb = notification_cb
        self._caller_session = session
        self._own_session: aiohttp.ClientSession | None = None
        self._client_name = client_name
        self._tuning = Tuning(normal_fps, burst_fps, jpeg_quality, audio_interval_s, _tuning_source)
        self._speech = SpeechGate(client_vad)
        self._gate = RateGate()
        self._stats: dict[str, int] = dict.fromkeys(_COUNTERS, 0)
        self._media = MediaOut(
            self, video_encoding, int(max_frame_bytes), int(audio_batch_ms), max_buffer_items, max_buffer_bytes
        )
        backoff = Backoff(reconnect_initial_s, reconnect_max_s, reconnect_jitter_ratio)
        self._conn = Connection(
            base_url, self, self._session, self._stats, token=token, admin_key=admin_key, token_ttl_s=token_ttl_s,
            backoff=backoff, healthy_after_s=healthy_after_s, connect_timeout_s=connect_timeout_s,
            heartbeat_s=heartbeat_s,
        )
        self._participant: str | None = None  # as the bot gave it
        self._level = "clear"
        self._level_known = False
        self._announced_fps: float | None = None
        self._audio_paused_until = 0.0  # time.monotonic() before which no audio is sent
        self._service_resume_at = 0.0  # when the service's own pause ends (the bot's may be longer)
        self._ready_event: Ready | None = None
        self._notes: asyncio.Queue[tuple[str, str, DeepfakeAlert | None]] | None = None
        self._run_task: asyncio.Task | None = None
        self._notify_task: asyncio.Task | None = None
        self._warned: set[str] = set()
        self._checks = CheckWaiters()
        if participant_id is not None:
            self.set_participant_id(participant_id)

    # ---- public API -------------------------------------------------------------------------

    @property
    def participant_id(self) -> str | None:
        """The participant as the bot set it (the service may know it encoded, see ``participant``)."""
        return self._participant

    @property
    def connection_state(self) -> str:
        """idle, waiting_for_participant, connecting, open, reconnecting, auth_failed, closed or stopped."""
        return self._conn.state

    @property
    def state(self) -> Any:
        """The connection state (same as ``connection_state``); the compat class's ``state`` is the level."""
        return self._conn.state

    @property
    def level(self) -> str:
        """The participant's detection level as last reported: ``clear``, ``suspicious`` or ``alert``."""
        return self._level

    @property
    def ready(self) -> bool:
        """True between the service's ``ready`` event and the socket going away."""
        return self._ready_event is not None and self._conn.open

    @property
    def video_fps(self) -> float | None:
        """The rate video is sent at now (None before the first ``ready``)."""
        return self._gate.fps

    @property
    def auth_error(self) -> DeepfakeEdgeAuthError | None:
        """Set when the service refused the token or admin key; the processor then stops connecting."""
        return self._conn.auth_error

    @property
    def last_ready_event(self) -> dict[str, Any] | None:
        return None if self._ready_event is None else dict(self._ready_event.raw, participant_id=self._participant)

    @property
    def stats(self) -> dict[str, Any]:
        """Counters (a copy) of what was seen, sent, dropped (and why), plus who gates speech."""
        stats: dict[str, Any] = dict(self._stats)
        stats["buffered"] = len(self._media.buffer)
        stats["vad"] = self._speech.decider
        stats["audio_wanted"] = time.monotonic() >= self._audio_paused_until
        stats["participant_id"] = self._participant
        return stats

    async def start(self) -> None:
        """Starts connecting (and keeps the connection up until stop()). Safe to call twice."""
        if self._run_task is not None and not self._run_task.done():
            return
        loop = asyncio.get_running_loop()
        if self._notes is None:
            self._notes = asyncio.Queue()
        if self._caller_session is None and (self._own_session is None or self._own_session.closed):
            self._own_session = aiohttp.ClientSession()
        if self._speech.mode == "auto":
            self._warn_once("vad", "deepfake-edge: client_vad='auto': audio goes out and the service's voice gate "
                            "decides "
                            "until the pipeline produces speaking frames", level="INFO")
        self._notify_task = loop.create_task(self._notify_loop(), name=f"{self.name}-notify")
        self._run_task = loop.create_task(self._conn.run(), name=f"{self.name}-connection")

    async def stop(self) -> None:
        """Closes the socket and stops reconnecting. Never closes a session the caller passed in."""
        for task in (self._run_task, self._notify_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._run_task = self._notify_task = None
        self._checks.lost(closed=True)
        await self._conn.close()
        self._ready_event = None
        self._media.clear()
        if self._own_session is not None and not self._own_session.closed:
            await self._own_session.close()
        self._own_session = None
        if self._conn.state != "auth_failed":
            self._conn.set_state("stopped")

    def set_participant_id(self, participant_id: str) -> None:
        """Sets (or changes) the participant; a change reconnects under the new id."""
        encoded = encode_participant_id(participant_id)
        if encoded != participant_id and encoded != self._conn.participant_id:
            logger.info(f"deepfake-edge: participant id {participant_id!r} is sent as {encoded!r} (reported as given)")
        if encoded != self._conn.participant_id:
            self._level, self._level_known, self._ready_event = "clear", False, None
        self._participant = str(participant_id)
        self._conn.set_participant(encoded)

    def set_webrtc_connection(self, webrtc_connection: Any) -> None:
        """Track ids come from this connection's input tracks (as in the reference), when it has them."""
        self._media.webrtc = webrtc_connection

    async def check_now(self, duration_s: int = 0) -> CheckCompleted:
        """An on-demand check (docs/DESIGN.md §13): a fresh verdict within ``duration_s`` seconds (0: the
        service's default, 10 s; at most 60), joining a check already running. Returns its
        ``CheckCompleted`` (outcome, level, per-track levels); raises ``CheckError`` (code
        ``check_rate_limited``, ``bad_check``, ``not_ready``, ``disconnected``, ``timeout`` or ``closed``)."""
        valid = isinstance(duration_s, int) and not isinstance(duration_s, bool)
        if not valid or not 0 <= duration_s <= CHECK_MAX_DURATION_S:
            raise ValueError(f"duration_s must be a whole number from 0 to {CHECK_MAX_DURATION_S}, got {duration_s!r}")
        if not self.ready:
            raise CheckError("not_ready", "the processor is not connected to the service")
        return await self._checks.run(lambda: self._media.control("check", check_message(duration_s)))

    async def wait_ready(self, timeout: float | None = None) -> dict[str, Any]:
        """Waits for the service's ``ready`` event; raises DeepfakeEdgeAuthError when refused."""

        async def wait() -> dict[str, Any]:
            while True:
                ready = self.last_ready_event
                if self.ready and ready is not None:
                    return ready
                if self._conn.auth_error is not None:
                    raise self._conn.auth_error
                if self._conn.state in ("idle", "stopped", "closed"):
                    raise RuntimeError(f"processor is {self._conn.state}")
                await self._conn.state_event.wait()

        return await asyncio.wait_for(wait(), timeout)

    # ---- pipeline ---------------------------------------------------------------------------

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        self._stats["frames_in"] += 1
        try:
            self._observe(frame)
        except Exception as err:  # never let the side channel break the pipeline
            self._warn_once("observe", f"deepfake-edge: could not handle {frame}: {err!r}")
        await self.push_frame(frame, direction)
        self._stats["frames_out"] += 1

    async def cleanup(self) -> None:
        await super().cleanup()
        await self.stop()

    def _observe(self, frame: Frame) -> None:
        """Decides, without waiting, whether a frame is sent; queues a reference to it if so."""
        if isinstance(frame, InputImageRawFrame):
            self._media.video(frame, self.ready)
        elif isinstance(frame, InputAudioRawFrame):
            self._stats["audio_frames_seen"] += 1
            if not self._speech.admits_audio():
                self._stats["audio_frames_outside_speech"] += 1
            elif time.monotonic() < self._audio_paused_until:
                self._stats["audio_frames_not_wanted"] += 1
            elif not self.ready:
                self._stats["dropped_disconnected"] += 1
            else:
                self._media.audio(frame)
        else:
            speaking = _SPEAKING_FRAMES.get(type(frame))
            if speaking is None:
                speaking = next((v for cls, v in _SPEAKING_FRAMES.items() if isinstance(frame, cls)), None)
            if speaking is not None:
                self._on_speaking(speaking)

    def _on_speaking(self, speaking: bool) -> None:
        changed, started = self._speech.speaking_frame(speaking)
        if started:
            logger.info("deepfake-edge: the pipeline produces speaking frames: they gate the audio from now on")
        if (changed or started) and self._speech.pipeline_decides:
            self._media.speaking(speaking, self._conn.open)

    # ---- connection hooks (connection.ConnectionHooks) --------------------------------------

    def _session(self) -> aiohttp.ClientSession:
        session = self._caller_session or self._own_session
        if session is None or session.closed:
            raise RuntimeError("the aiohttp session is closed")
        return session

    def opening_messages(self) -> list[tuple[str, bytes]]:
        return self._media.opening(self._client_name, self._speech.pipeline_decides, self._speech.speaking)

    async def next_message(self) -> tuple[str, bytes] | None:
        return await self._media.next_message(self._jpeg_quality())

    def on_open(self) -> None:
        self._media.buffer.clear()
        self._ready_event = None
        self._audio_paused_until = self._service_resume_at = 0.0  # a new connection's audio path has no pause

    def on_gone(self) -> None:
        self._ready_event = None
        self._checks.lost()
        self._stats["dropped_disconnected"] += self._media.clear()

    def rate_overrides(self) -> dict[str, float]:
        return self._tuning.url_overrides()

    def rate_overrides_refused(self) -> None:
        self._tuning.refused()

    def on_binary(self) -> None:
        self._stats["bad_events"] += 1

    def _warn_once(self, key: str, message: str, level: str = "WARNING") -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.log(level, message)


_COUNTERS = (
    "frames_in", "frames_out", "video_frames_seen", "video_frames_sent", "video_bytes_sent",
    "video_frames_rate_limited",
    "video_frames_unsupported", "screen_frames_skipped", "video_frames_downscaled", "video_frames_encoded",
    "audio_frames_seen", "audio_frames_sent", "audio_bytes_sent", "audio_frames_outside_speech",
    "audio_frames_not_wanted",
    "audio_frames_unsupported", "audio_hints", "speaking_sent", "dropped_disconnected", "dropped_buffer_full",
    "messages_sent", "bytes_sent", "connects", "reconnects", "alerts", "callback_errors", "server_errors", "bad_events",
    "unknown_events",
)
