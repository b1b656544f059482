"""DeepfakeEdgeProcessor: a Pipecat FrameProcessor that streams a bot's media to deepfake-edge.

It drops into a pipeline where the reference's ``DataspikeDeepfakeProcessor`` stood (DESIGN.md §10)
and speaks the service's client protocol (§5): one WebSocket per participant,
``GET /v1/participants/:id/stream``, binary protobuf ``ClientMessage``s out, JSON events in.

Guarantees:

- every frame is pushed downstream unchanged, at once: the processor only looks at frames and
  puts references to the few it sends into a bounded buffer (drop-oldest, counted); encoding and
  socket writes happen in a background task, so a slow or absent service never blocks the pipeline;
- camera video only (``transport_source`` ``"camera"``, or none), never screen share, and no faster
  than the rate the service announced (``ready``/``rate``), dropped client-side;
- audio as the frames' own PCM (rate, channels), consecutive frames joined into 100 ms messages
  (``audio_batch_ms``: the service's cost is per message); with ``client_vad`` the pipeline's speaking frames
  become ``Speaking`` messages and audio outside speech is not sent;
- reconnects with backoff (1 s doubling to 10 s, plus up to 50 % jitter); a refused token (HTTP 401 or
  403) is logged, kept as ``auth_error`` and not retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import math
import random
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

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

from ._proto import ingest_pb2 as pb
from .alert import DeepfakeAlert
from .audio_batch import AUDIO_BATCH_MS, AudioBatch, AudioBatcher, AudioStream
from .rate_gate import RateGate
from .send_buffer import Outgoing, SendBuffer

__all__ = ["DeepfakeEdgeProcessor", "DeepfakeEdgeAuthError", "NotificationCallback"]

NotificationCallback = Callable[[DeepfakeAlert], Awaitable[None] | None]

CLIENT_NAME = "deepfake-edge-pipecat/0.1.0"
PARTICIPANT_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_PARTICIPANT_BAD_CHARS = re.compile(r"[^A-Za-z0-9._:-]")
#: The largest raw frame the service accepts by default: 1920x1080 RGBA (its message cap is that plus
#: 64 KiB of framing, src/config/limits.ts). Larger raw frames are downscaled by an integer factor.
DEFAULT_MAX_FRAME_BYTES = 1920 * 1080 * 4
#: Close codes after which reconnecting would only repeat the failure: normal end (the session was
#: ended), unsupported data, policy violation, message too big.
TERMINAL_CLOSE_CODES = frozenset({1000, 1003, 1008, 1009})
#: An audio frame may hold at most 1 s (the service answers longer ones with ``bad_audio``).
MAX_AUDIO_FRAME_SECONDS = 1.0

_SCREEN_SOURCES = ("screen",)


class DeepfakeEdgeAuthError(Exception):
    """The service refused the credentials (HTTP 401/403); the processor does not retry."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _stream_url(base_url: str, participant_id: str) -> str:
    parts = urlsplit(base_url.rstrip("/"))
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None:
        raise ValueError(f"base_url must be http(s):// or ws(s)://, got {base_url!r}")
    path = f"{parts.path}/v1/participants/{quote(participant_id, safe='')}/stream"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def _http_url(base_url: str, path: str) -> str:
    parts = urlsplit(base_url.rstrip("/"))
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, parts.path + path, "", ""))


def clean_participant_id(raw: str) -> str:
    """A participant id the service accepts: 1-128 of [A-Za-z0-9._:-], other characters become '_'.

    SmallWebRTC's ``pc_id`` (``SmallWebRTCConnection#0-<hex>``) contains a '#', for example.
    """
    cleaned = _PARTICIPANT_BAD_CHARS.sub("_", str(raw))[:128]
    if not cleaned:
        raise ValueError("participant id must not be empty")
    return cleaned


def is_camera_source(source: str | None) -> bool:
    """Pipecat's transports name sources "camera" and "screenVideo"; frames with no source count as camera."""
    if source is None:
        return True
    if any(word in source.lower() for word in _SCREEN_SOURCES):
        return False
    return source == "camera"


class DeepfakeEdgeProcessor(FrameProcessor):
    """Sends a Pipecat bot's camera video, audio and speaking state to deepfake-edge.

    Args:
        base_url: The service, ``http(s)://`` or ``ws(s)://`` (e.g. ``http://127.0.0.1:8787``).
        token: A connect token (sent as ``Authorization: Bearer``). Without one, a token is minted
            with ``POST /v1/tokens`` when ``admin_key`` is given; otherwise the processor connects
            without a token (development mode on a loopback host).
        participant_id: The participant; may be set later with ``set_participant_id()``.
            Characters the service does not accept are replaced with '_'.
        notification_cb: Awaited with a ``DeepfakeAlert`` for each ``deepfake_alert`` event. Without
            one, the event is logged as the reference's JSON line. Exceptions are logged.
        client_vad: True (default): the pipeline's speaking frames are sent as ``Speaking`` and only
            audio between them is sent. False: all audio is sent and the service's voice gate decides.
        admin_key: The service's admin key, used only to mint connect tokens.
        session: An aiohttp session to use; the processor never closes it.
        token_ttl_s: Lifetime of minted tokens.
        max_buffer_items / max_buffer_bytes: Bounds of the send buffer (oldest media dropped first).
        max_frame_bytes: Largest raw frame sent as is; larger frames are downscaled to fit.
        reconnect_initial_s / reconnect_max_s / reconnect_jitter_ratio / healthy_after_s: backoff.
        connect_timeout_s: Time allowed for one WebSocket upgrade.
        heartbeat_s: WebSocket ping interval, so a service that vanished without closing is noticed
            (None: no pings).
        audio_batch_ms: Consecutive audio frames of a track are sent joined, this many ms to a
            message (0: each frame as it comes; at most 1000). A batch leaves when full, before a
            ``Speaking`` message, or this long after its first frame.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        participant_id: str | None = None,
        notification_cb: NotificationCallback | None = None,
        client_vad: bool = True,
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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        _stream_url(base_url, "x")  # validates the scheme now, not at the first connect
        self._base_url = base_url
        self._token = token
        self._admin_key = admin_key
        self._token_ttl_s = int(token_ttl_s)
        self._notification_cb = notification_cb
        self._client_vad = bool(client_vad)
        self._caller_session = session
        self._own_session: aiohttp.ClientSession | None = None
        self._max_frame_bytes = int(max_frame_bytes)
        self._reconnect = (float(reconnect_initial_s), float(reconnect_max_s), float(reconnect_jitter_ratio))
        self._healthy_after_s = float(healthy_after_s)
        self._connect_timeout_s = float(connect_timeout_s)
        self._heartbeat_s = heartbeat_s
        self._client_name = client_name

        self._participant_id: str | None = None
        self._participant_changed: asyncio.Event | None = None
        self._gate = RateGate()
        self._buffer = SendBuffer(max_buffer_items, max_buffer_bytes)
        self._audio = AudioBatcher(int(audio_batch_ms))
        self._audio_timer: asyncio.TimerHandle | None = None
        self._alerts: asyncio.Queue[DeepfakeAlert] | None = None
        self._run_task: asyncio.Task | None = None
        self._notify_task: asyncio.Task | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ready = False
        self._speaking = False
        self._state = "idle"
        self._state_event = asyncio.Event()
        self._auth_error: DeepfakeEdgeAuthError | None = None
        self._last_ready: dict[str, Any] | None = None
        self._minted: tuple[str, str, float] | None = None  # participant, token, expires_at (epoch s)
        self._warned: set[str] = set()
        self._stats: dict[str, int] = {
            "frames_in": 0,
            "frames_out": 0,
            "video_frames_seen": 0,
            "video_frames_sent": 0,
            "video_frames_rate_limited": 0,
            "video_frames_unsupported": 0,
            "screen_frames_skipped": 0,
            "video_frames_downscaled": 0,
            "audio_frames_seen": 0,
            "audio_frames_sent": 0,
            "audio_frames_outside_speech": 0,
            "audio_frames_unsupported": 0,
            "speaking_sent": 0,
            "dropped_disconnected": 0,
            "dropped_buffer_full": 0,
            "messages_sent": 0,
            "bytes_sent": 0,
            "connects": 0,
            "reconnects": 0,
            "alerts": 0,
            "callback_errors": 0,
            "server_errors": 0,
            "bad_events": 0,
        }
        if participant_id is not None:
            self._set_participant(participant_id)

    # ---- public API -------------------------------------------------------------------------

    @property
    def participant_id(self) -> str | None:
        return self._participant_id

    @property
    def state(self) -> str:
        """idle, waiting_for_participant, connecting, open, reconnecting, auth_failed, closed or stopped."""
        return self._state

    @property
    def ready(self) -> bool:
        """True between the service's ``ready`` event and the socket going away."""
        return self._ready and self._ws is not None and not self._ws.closed

    @property
    def video_fps(self) -> float | None:
        """The sampling rate last announced by the service (None before the first ``ready``)."""
        return self._gate.fps

    @property
    def auth_error(self) -> DeepfakeEdgeAuthError | None:
        """Set when the service refused the token or admin key; the processor then stops connecting."""
        return self._auth_error

    @property
    def last_ready_event(self) -> dict[str, Any] | None:
        return self._last_ready

    @property
    def stats(self) -> dict[str, int]:
        """Counters (a copy): what was seen, sent, dropped (and why), connects, alerts."""
        stats = dict(self._stats)
        stats["buffered"] = len(self._buffer)
        return stats

    async def start(self) -> None:
        """Starts connecting (and keeps the connection up until stop()). Safe to call twice."""
        if self._run_task is not None and not self._run_task.done():
            return
        loop = asyncio.get_running_loop()
        self._auth_error = None
        if self._participant_changed is None:
            self._participant_changed = asyncio.Event()
        if self._alerts is None:
            self._alerts = asyncio.Queue()
        if self._caller_session is None and (self._own_session is None or self._own_session.closed):
            self._own_session = aiohttp.ClientSession()
        self._notify_task = loop.create_task(self._notify_loop(), name=f"{self.name}-notify")
        self._run_task = loop.create_task(self._run(), name=f"{self.name}-connection")

    async def stop(self) -> None:
        """Closes the socket and stops reconnecting. Never closes a session the caller passed in."""
        for task in (self._run_task, self._notify_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._run_task = self._notify_task = None
        ws, self._ws = self._ws, None
        self._ready = False
        if ws is not None and not ws.closed:
            with contextlib.suppress(Exception):
                await ws.close()
        self._buffer.clear()
        self._discard_audio()
        if self._own_session is not None and not self._own_session.closed:
            await self._own_session.close()
        self._own_session = None
        if self._state != "auth_failed":
            self._set_state("stopped")

    def set_participant_id(self, participant_id: str) -> None:
        """Sets (or changes) the participant; a change reconnects under the new id."""
        self._set_participant(participant_id)

    def set_webrtc_connection(self, webrtc_connection: Any) -> None:
        """Accepted for drop-in compatibility with the reference processor; nothing is read from it.

        Track ids come from the frames' ``transport_source`` (``camera``, ``microphone``).
        """

    async def wait_ready(self, timeout: float | None = None) -> dict[str, Any]:
        """Waits for the service's ``ready`` event; raises DeepfakeEdgeAuthError when refused."""

        async def wait() -> dict[str, Any]:
            while True:
                if self.ready and self._last_ready is not None:
                    return self._last_ready
                if self._auth_error is not None:
                    raise self._auth_error
                if self._state in ("idle", "stopped", "closed"):
                    raise RuntimeError(f"processor is {self._state}")
                event = self._state_event
                await event.wait()

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
            self._observe_video(frame)
        elif isinstance(frame, InputAudioRawFrame):
            self._observe_audio(frame)
        elif isinstance(frame, (UserStartedSpeakingFrame, VADUserStartedSpeakingFrame)):
            self._on_speaking(True)
        elif isinstance(frame, (UserStoppedSpeakingFrame, VADUserStoppedSpeakingFrame)):
            self._on_speaking(False)

    def _observe_video(self, frame: InputImageRawFrame) -> None:
        if not is_camera_source(frame.transport_source):
            self._stats["screen_frames_skipped"] += 1
            return
        self._stats["video_frames_seen"] += 1
        if not self.ready:
            self._stats["dropped_disconnected"] += 1
            return
        pixel_format = self._pixel_format(frame)
        if pixel_format is None:
            self._stats["video_frames_unsupported"] += 1
            return
        track_id = frame.transport_source or "camera"
        if not self._gate.take(track_id, time.monotonic()):
            self._stats["video_frames_rate_limited"] += 1
            return
        payload = (frame, track_id, pixel_format, int(time.time() * 1000))
        self._enqueue(Outgoing("video", payload, len(frame.image)))

    def _observe_audio(self, frame: InputAudioRawFrame) -> None:
        self._stats["audio_frames_seen"] += 1
        if self._client_vad and not self._speaking:
            self._stats["audio_frames_outside_speech"] += 1
            return
        if not self.ready:
            self._stats["dropped_disconnected"] += 1
            return
        rate, channels, data = frame.sample_rate, frame.num_channels, frame.audio
        if not (8000 <= rate <= 48000) or channels not in (1, 2) or len(data) % (2 * channels) != 0:
            self._stats["audio_frames_unsupported"] += 1
            self._warn_once(
                "audio-format",
                f"deepfake-edge: audio of {rate} Hz, {channels} channel(s), {len(data)} bytes is not "
                "sendable (8-48 kHz, 1-2 channels, whole s16le samples); such audio is not sent",
            )
            return
        stream = AudioStream(frame.transport_source or "microphone", rate, channels)
        timestamp_ms = int(time.time() * 1000)
        piece = int(rate * MAX_AUDIO_FRAME_SECONDS) * 2 * channels
        for start in range(0, len(data), piece):
            for batch in self._audio.push(stream, timestamp_ms, data[start : start + piece]):
                self._enqueue_audio(batch)
        if self._audio.pending_frames == 0:
            self._cancel_audio_timer()
        elif self._audio_timer is None:
            self._audio_timer = asyncio.get_running_loop().call_later(self._audio.batch_ms / 1000, self._flush_audio)

    def _enqueue_audio(self, batch: AudioBatch) -> None:
        s = batch.stream
        self._enqueue(Outgoing("audio", (s.track_id, s.sample_rate, s.channels, batch.timestamp_ms, batch.data), len(batch.data)))

    def _flush_audio(self) -> None:
        """Sends the pending batch now (its timer fired, or a Speaking message must follow it)."""
        self._cancel_audio_timer()
        if self._ws is None or self._ws.closed:
            self._discard_audio()
            return
        for batch in self._audio.flush():
            self._enqueue_audio(batch)

    def _discard_audio(self) -> None:
        self._cancel_audio_timer()
        self._stats["dropped_disconnected"] += self._audio.discard()

    def _cancel_audio_timer(self) -> None:
        if self._audio_timer is not None:
            self._audio_timer.cancel()
            self._audio_timer = None

    def _on_speaking(self, speaking: bool) -> None:
        if speaking == self._speaking:
            return
        self._speaking = speaking
        self._flush_audio()  # the audio before the marker goes before it
        if self._client_vad and self._ws is not None and not self._ws.closed:
            self._enqueue(Outgoing("control", _speaking_message(speaking), 4))

    def _enqueue(self, item: Outgoing) -> None:
        dropped = self._buffer.put(item)
        if dropped:
            self._stats["dropped_buffer_full"] += dropped
            self._warn_once("buffer-full", "deepfake-edge: the socket is slower than the media; dropping the oldest frames")

    def _pixel_format(self, frame: InputImageRawFrame) -> int | None:
        width, height = frame.size
        n = len(frame.image)
        fmt = (frame.format or "").upper()
        if fmt in ("JPEG", "JPG"):
            return pb.JPEG
        if fmt == "RGB" or (fmt == "" and n == width * height * 3):
            expected, result = width * height * 3, pb.RGB24
        elif fmt == "RGBA" or (fmt == "" and n == width * height * 4):
            expected, result = width * height * 4, pb.RGBA
        else:
            self._warn_once(f"format-{fmt}", f"deepfake-edge: image format {frame.format!r} is not sent (RGB, RGBA or JPEG)")
            return None
        if n != expected or width <= 0 or height <= 0:
            self._warn_once("bad-size", f"deepfake-edge: image of {n} bytes does not match {width}x{height} {fmt}; not sent")
            return None
        return result

    # ---- connection -------------------------------------------------------------------------

    def _set_participant(self, participant_id: str) -> None:
        cleaned = clean_participant_id(participant_id)
        if cleaned != participant_id:
            logger.info(f"deepfake-edge: participant id {participant_id!r} sent as {cleaned!r}")
        if cleaned == self._participant_id:
            return
        self._participant_id = cleaned
        if self._participant_changed is not None:
            self._participant_changed.set()

    def _set_state(self, state: str) -> None:
        self._state = state
        event, self._state_event = self._state_event, asyncio.Event()
        event.set()

    def _session(self) -> aiohttp.ClientSession:
        session = self._caller_session or self._own_session
        if session is None or session.closed:
            raise RuntimeError("the aiohttp session is closed")
        return session

    async def _run(self) -> None:
        initial, maximum, jitter = self._reconnect
        failures = 0
        while True:
            assert self._participant_changed is not None
            if self._participant_id is None:
                self._set_state("waiting_for_participant")
                await self._participant_changed.wait()
                continue
            self._participant_changed.clear()
            participant_id = self._participant_id
            self._set_state("connecting")
            reason: str
            try:
                ws = await self._connect(participant_id)
            except DeepfakeEdgeAuthError as err:
                self._auth_error = err
                logger.error(f"deepfake-edge: {err}; not retrying (check the token or admin key)")
                self._set_state("auth_failed")
                return
            except asyncio.CancelledError:
                raise
            except Exception as err:
                reason = f"connect failed: {_describe(err)}"
            else:
                opened_at = time.monotonic()
                code, reason = await self._serve(ws, participant_id)
                if code in TERMINAL_CLOSE_CODES and not self._participant_changed.is_set():
                    logger.error(f"deepfake-edge: the service closed the socket ({reason}); not reconnecting")
                    self._set_state("closed")
                    return
                if self._participant_changed.is_set():
                    failures = 0
                    continue
                if time.monotonic() - opened_at >= self._healthy_after_s:
                    failures = 0
            delay = min(initial * (2**failures), maximum)
            delay += random.uniform(0, delay * jitter)
            failures += 1
            self._stats["reconnects"] += 1
            logger.warning(f"deepfake-edge: {reason}; reconnecting in {delay:.1f} s")
            self._set_state("reconnecting")
            with contextlib.suppress(asyncio.TimeoutError):
                # A new participant id cuts the wait short.
                await asyncio.wait_for(self._participant_changed.wait(), delay)

    async def _connect(self, participant_id: str) -> aiohttp.ClientWebSocketResponse:
        token = await self._token_for(participant_id)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        url = _stream_url(self._base_url, participant_id)
        try:
            return await asyncio.wait_for(
                self._session().ws_connect(
                    url,
                    headers=headers,
                    timeout=aiohttp.ClientWSTimeout(ws_close=2.0),
                    heartbeat=self._heartbeat_s,
                    max_msg_size=0,
                ),
                self._connect_timeout_s,
            )
        except aiohttp.WSServerHandshakeError as err:
            if err.status in (401, 403):
                what = "connect token" if token else "connection without a token"
                raise DeepfakeEdgeAuthError(
                    f"the service refused the {what} for participant {participant_id!r} (HTTP {err.status})", err.status
                ) from err
            raise

    async def _token_for(self, participant_id: str) -> str | None:
        if self._token:
            return self._token
        if not self._admin_key:
            return None
        minted = self._minted
        if minted is not None and minted[0] == participant_id and minted[2] - time.time() > 60:
            return minted[1]
        url = _http_url(self._base_url, "/v1/tokens")
        body = {"participant_id": participant_id, "ttl_s": self._token_ttl_s}
        async with self._session().post(
            url,
            json=body,
            headers={"Authorization": f"Bearer {self._admin_key}"},
            timeout=aiohttp.ClientTimeout(total=self._connect_timeout_s),
        ) as res:
            if res.status in (401, 403):
                raise DeepfakeEdgeAuthError(f"the service refused the admin key at POST /v1/tokens (HTTP {res.status})", res.status)
            if res.status != 200:
                raise RuntimeError(f"POST /v1/tokens answered HTTP {res.status}: {(await res.text())[:200]}")
            data = await res.json()
        token = str(data["token"])
        expires_at = float(data.get("expires_at") or time.time() + self._token_ttl_s)
        self._minted = (participant_id, token, expires_at)
        return token

    async def _serve(self, ws: aiohttp.ClientWebSocketResponse, participant_id: str) -> tuple[int | None, str]:
        """Runs one connection until it closes; returns the close code and a reason."""
        assert self._participant_changed is not None
        self._buffer.clear()
        self._ready = False
        self._ws = ws
        self._stats["connects"] += 1
        self._set_state("open")
        hello = pb.ClientMessage(hello=pb.Hello(client=self._client_name, vad=self._client_vad, honors_rate=True))
        sender = receiver = changed = None
        try:
            await ws.send_bytes(hello.SerializeToString())
            if self._client_vad and self._speaking:
                await ws.send_bytes(_speaking_message(True))
            loop = asyncio.get_running_loop()
            sender = loop.create_task(self._send_loop(ws))
            receiver = loop.create_task(self._receive_loop(ws))
            changed = loop.create_task(self._participant_changed.wait())
            done, _ = await asyncio.wait({sender, receiver, changed}, return_when=asyncio.FIRST_COMPLETED)
            if changed in done:
                return None, "participant changed"
            for task in done:
                if task.exception() is not None:
                    return ws.close_code, f"socket failed: {_describe(task.exception())}"
            return ws.close_code, f"socket closed ({ws.close_code})"
        except asyncio.CancelledError:
            raise
        except Exception as err:
            return ws.close_code, f"socket failed: {_describe(err)}"
        finally:
            for task in (sender, receiver, changed):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
            if self._ws is ws:
                self._ws = None
            self._ready = False
            self._stats["dropped_disconnected"] += self._buffer.clear()
            self._discard_audio()
            if not ws.closed:
                with contextlib.suppress(Exception):
                    await ws.close()

    async def _send_loop(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            item = await self._buffer.get()
            data = self._encode(item)
            if data is None:
                continue
            await ws.send_bytes(data)
            self._stats["messages_sent"] += 1
            self._stats["bytes_sent"] += len(data)
            if item.kind == "video":
                self._stats["video_frames_sent"] += 1
            elif item.kind == "audio":
                self._stats["audio_frames_sent"] += 1
            else:
                self._stats["speaking_sent"] += 1

    def _encode(self, item: Outgoing) -> bytes | None:
        if item.kind == "control":
            return item.payload
        if item.kind == "audio":
            track_id, rate, channels, timestamp_ms, data = item.payload
            audio = pb.AudioFrame(track_id=track_id, sample_rate=rate, channels=channels, timestamp_ms=timestamp_ms, data=data)
            return pb.ClientMessage(audio=audio).SerializeToString()
        frame, track_id, pixel_format, timestamp_ms = item.payload
        width, height = frame.size
        data = frame.image if isinstance(frame.image, bytes) else bytes(frame.image)
        if pixel_format != pb.JPEG and len(data) > self._max_frame_bytes:
            data, width, height = _downscale(data, width, height, 3 if pixel_format == pb.RGB24 else 4, self._max_frame_bytes)
            self._stats["video_frames_downscaled"] += 1
        elif len(data) > self._max_frame_bytes:
            self._stats["video_frames_unsupported"] += 1
            return None
        video = pb.VideoFrame(
            track_id=track_id,
            width=width,
            height=height,
            format=pixel_format,
            source=pb.CAMERA,
            timestamp_ms=timestamp_ms,
            data=data,
        )
        return pb.ClientMessage(video=video).SerializeToString()

    async def _receive_loop(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                self._on_event(msg.data)
            elif msg.type == aiohttp.WSMsgType.ERROR:
                raise ConnectionError(f"WebSocket error: {ws.exception()!r}")
            else:
                self._stats["bad_events"] += 1

    def _on_event(self, text: str) -> None:
        try:
            event = json.loads(text)
            kind = event["type"]
        except (ValueError, KeyError, TypeError):
            self._stats["bad_events"] += 1
            return
        if kind == "ready":
            self._gate.set_fps(float(event.get("video_fps", 0)))
            self._last_ready = event
            self._ready = True
            if event.get("simulated"):
                self._warn_once("simulated", "deepfake-edge: the service runs its SIMULATOR: results are not real detections")
            logger.info(
                f"deepfake-edge: ready for {event.get('participant_id')} "
                f"(level {event.get('level')}, video {event.get('video_fps')} fps)"
            )
            self._set_state("open")
        elif kind == "rate":
            self._gate.set_fps(float(event.get("video_fps", 0)))
            logger.debug(f"deepfake-edge: video rate {event.get('video_fps')} fps")
        elif kind == "deepfake_alert":
            try:
                alert = DeepfakeAlert.from_event(event)
            except ValueError:
                self._stats["bad_events"] += 1
                return
            self._stats["alerts"] += 1
            assert self._alerts is not None
            self._alerts.put_nowait(alert)
        elif kind == "error":
            self._stats["server_errors"] += 1
            self._warn_once(
                f"error-{event.get('code')}", f"deepfake-edge: the service rejected a message: {event.get('code')}: {event.get('message')}"
            )
        elif kind == "upstream_error":
            logger.warning(f"deepfake-edge: detection error for {event.get('track_id')}: {event.get('message')}")
        elif kind == "upstream":
            logger.debug(f"deepfake-edge: upstream {event.get('status')}")

    async def _notify_loop(self) -> None:
        assert self._alerts is not None
        while True:
            alert = await self._alerts.get()
            try:
                if self._notification_cb is None:
                    logger.warning(f"received notification: {alert.log_line()}")
                else:
                    result = self._notification_cb(alert)
                    if inspect.isawaitable(result):
                        await result
            except asyncio.CancelledError:
                raise
            except Exception:
                self._stats["callback_errors"] += 1
                logger.exception(f"deepfake-edge: notification_cb raised for {alert.id}")

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(message)


def _speaking_message(speaking: bool) -> bytes:
    return pb.ClientMessage(speaking=pb.Speaking(speaking=speaking)).SerializeToString()


def _describe(err: BaseException | None) -> str:
    return f"{type(err).__name__}: {err}" if err is not None else "unknown"


def _downscale(data: bytes, width: int, height: int, channels: int, max_bytes: int) -> tuple[bytes, int, int]:
    """Keeps every k-th pixel in both directions, with the smallest k that fits max_bytes."""
    import numpy as np

    factor = max(2, math.ceil(math.sqrt(len(data) / max_bytes)))
    while math.ceil(width / factor) * math.ceil(height / factor) * channels > max_bytes:
        factor += 1
    image = np.frombuffer(data, dtype=np.uint8).reshape(height, width, channels)[::factor, ::factor]
    small = np.ascontiguousarray(image)
    return small.tobytes(), small.shape[1], small.shape[0]
