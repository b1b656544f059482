"""The processor's side of the service's events (docs/DESIGN.md §5): each is validated first
(``events.parse_event``), then applied: rates, the audio pause, the detection level, and the
notifications, which a task of their own delivers in order. A malformed event is counted and logged
once per kind of problem; it never ends the receive loop.
"""

from __future__ import annotations

import asyncio
import inspect
import time

from loguru import logger

from .alert import DeepfakeAlert
from .events import AudioHint, BadEvent, CheckCompleted, CheckStarted, Rate, Ready, ServerError, Upstream, UpstreamError
from .events import parse_event


#: A `wanted: true` this much before the pause the service announced is not its end but a check.
EARLY_RESUME_S = 0.5


class ServiceEvents:
    """Mixed into DeepfakeEdgeProcessor (which holds the state these methods use)."""

    def on_text(self, text: str) -> None:
        """One event from the service: validated first; a malformed one is counted and logged, nothing more."""
        try:
            event = parse_event(text)
        except BadEvent as err:
            self._stats["bad_events"] += 1
            self._warn_once(f"bad-{str(err)[:40]}", f"deepfake-edge: skipped a malformed event from the service: {err}")
            return
        if event is None:
            self._stats["unknown_events"] += 1
        elif isinstance(event, Ready):
            self._on_ready(event)
        elif isinstance(event, Rate):
            self._announced_fps = event.video_fps
            self._apply_rate()
        elif isinstance(event, AudioHint):
            self._on_audio_hint(event)
        elif isinstance(event, DeepfakeAlert):
            self._stats["alerts"] += 1
            self._note(event.previous_level, event.level, event)
        elif isinstance(event, CheckStarted):
            self._checks.started(event)
        elif isinstance(event, CheckCompleted):
            self._checks.completed(event)
        elif isinstance(event, ServerError):
            self._stats["server_errors"] += 1
            self._checks.refused(event.code, event.message)
            message = f"deepfake-edge: the service rejected a message: {event.code}: {event.message}"
            self._warn_once(f"error-{event.code}", message)
        elif isinstance(event, UpstreamError):
            logger.warning(f"deepfake-edge: detection error for {event.track_id}: {event.message}")
        elif isinstance(event, Upstream):
            logger.debug(f"deepfake-edge: upstream {event.status}")

    def _on_ready(self, ready: Ready) -> None:
        self._tuning.on_ready(ready)
        if self._level_known and ready.level != self._level:
            self._note(self._level, ready.level, None)  # it moved while the processor was disconnected
        self._level, self._level_known = ready.level, True
        self._announced_fps = ready.video_fps
        self._ready_event = ready
        self._apply_rate()
        if ready.simulated:
            self._warn_once("simulated", "deepfake-edge: the service runs its SIMULATOR: results are not real")
        logger.info(f"deepfake-edge: ready for {self._participant} (level {ready.level}, video {self._gate.fps:g} fps, "
                    f"{self._media.encoding} frames, speech gated by the {self._speech.decider})")
        self._conn.set_state("open")

    def _apply_rate(self) -> None:
        if self._announced_fps is not None:
            self._gate.set_fps(self._tuning.video_fps(self._announced_fps, self._level))

    def _on_audio_hint(self, hint: AudioHint) -> None:
        self._stats["audio_hints"] += 1
        now = time.monotonic()
        if not hint.wanted:
            self._service_resume_at = now + hint.resume_in_s
            self._audio_paused_until = now + self._tuning.audio_pause_s(hint.resume_in_s)
            self._stats["audio_frames_not_wanted"] += self._media.discard_audio()
        elif now < self._service_resume_at - EARLY_RESUME_S or self._tuning.audio_interval_s is None:
            # Wanted before the service's own pause was over (an on-demand check waits for speech),
            # or no longer pause of the bot's own: speech goes now.
            self._audio_paused_until = 0.0

    def _jpeg_quality(self) -> int:
        return self._tuning.quality(None if self._ready_event is None else self._ready_event.jpeg_quality)

    # ---- notifications ----------------------------------------------------------------------

    def _note(self, previous: str, level: str, alert: DeepfakeAlert | None) -> None:
        self._level, self._level_known = level, True
        self._apply_rate()
        if alert is not None and self._participant is not None:
            alert = alert.with_participant(self._participant)
        assert self._notes is not None
        self._notes.put_nowait((previous, level, alert))

    async def _notify_loop(self) -> None:
        assert self._notes is not None
        while True:
            previous, level, alert = await self._notes.get()
            try:
                await self._deliver(previous, level, alert)
            except asyncio.CancelledError:
                raise
            except Exception:
                self._stats["callback_errors"] += 1
                logger.exception(f"deepfake-edge: notification_cb raised for {previous} -> {level}")

    async def _deliver(self, previous: str, level: str, alert: DeepfakeAlert | None) -> None:
        """Every transition with an event reaches notification_cb (the compat class overrides this)."""
        if alert is None:
            logger.info(f"deepfake-edge: {self._participant} moved {previous} -> {level} while disconnected")
            return
        if self._notification_cb is None:
            logger.warning(f"received notification: {alert.log_line()}")
            return
        result = self._notification_cb(alert)
        if inspect.isawaitable(result):
            await result
