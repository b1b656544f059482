"""The service's events (docs/DESIGN.md §5), parsed and checked before anything uses them.

Every text message from the service is one JSON object with a ``type``. ``parse_event`` turns it into
a typed, validated value, or raises ``BadEvent`` naming what is wrong: a ``rate`` event without a
number ``video_fps`` is refused here, never met as ``float(None)`` deep in the processor. Event types
this version does not know are returned as ``None`` (a newer service may send more), and extra
fields are ignored.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Any, Union

from .alert import LEVELS, DeepfakeAlert

__all__ = [
    "AudioHint",
    "BadEvent",
    "CheckCompleted",
    "CheckStarted",
    "Rate",
    "Ready",
    "ServerError",
    "ServerEvent",
    "Upstream",
    "UpstreamError",
    "parse_event",
]

#: The longest pause an ``audio`` event may announce (one day): more is treated as malformed.
MAX_AUDIO_PAUSE_S = 86_400.0


class BadEvent(ValueError):
    """A message from the service that is not a valid event (counted and logged, then skipped)."""


@dataclass(frozen=True, slots=True)
class Ready:
    """``ready``: the participant's level and this connection's rates, right after the upgrade."""

    participant_id: str
    level: str
    video_fps: float
    #: This connection's rates in CLEAR/ALERT and in SUSPICIOUS (None from a service that omits them).
    normal_fps: float | None
    burst_fps: float | None
    simulated: bool
    dev_mode: bool
    #: The deployment's JPEG quality and audio interval (None from a service that does not announce them).
    jpeg_quality: int | None
    audio_interval_s: float | None
    notice: str | None
    raw: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Rate:
    """``rate``: this connection's video sampling rate changed."""

    video_fps: float


@dataclass(frozen=True, slots=True)
class AudioHint:
    """``audio``: whether the service wants speech now; when not, for how long (on our own clock)."""

    wanted: bool
    resume_in_s: float


@dataclass(frozen=True, slots=True)
class Upstream:
    status: str
    retry_in_ms: float | None


@dataclass(frozen=True, slots=True)
class UpstreamError:
    track_id: str
    message: str


@dataclass(frozen=True, slots=True)
class ServerError:
    """``error``: the service rejected one of our messages (the socket stays usable)."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class CheckStarted:
    """``check_started``: an on-demand check of the participant began (docs/DESIGN.md §13)."""

    check_id: str
    until_ms: float


@dataclass(frozen=True, slots=True)
class CheckCompleted:
    """``check_completed``: the check's verdict. ``outcome`` is answered, window_ended or no_media."""

    id: str
    check_id: str
    level: str
    outcome: str
    results: int
    #: Each track's latest level within the window: (track_id, level).
    tracks: tuple[tuple[str, str], ...]
    started_ms: float
    completed_ms: float
    simulated: bool
    #: The event as the service sent it (also the webhook body).
    raw: dict[str, Any]


ServerEvent = Union[
    Ready, Rate, AudioHint, DeepfakeAlert, Upstream, UpstreamError, ServerError, CheckStarted, CheckCompleted
]


def parse_event(text: str | bytes) -> ServerEvent | None:
    """One text message from the service: its typed event, None for an unknown type, or BadEvent."""
    try:
        event = json.loads(text)
    except (ValueError, TypeError) as err:
        raise BadEvent(f"not JSON: {err}") from None
    if not isinstance(event, dict):
        raise BadEvent("not a JSON object")
    kind = event.get("type")
    if not isinstance(kind, str):
        raise BadEvent("no string `type`")
    parse = _PARSERS.get(kind)
    return parse(event) if parse is not None else None


def _ready(e: dict[str, Any]) -> Ready:
    quality = _optional_number(e, "jpeg_quality")
    if quality is not None and quality > 100:
        raise BadEvent(f"ready: jpeg_quality must be 0-100, got {quality}")
    notice = e.get("notice")
    return Ready(
        participant_id=_string(e, "participant_id"),
        level=_level(e, "level"),
        video_fps=_number(e, "video_fps"),
        normal_fps=_optional_number(e, "normal_fps"),
        burst_fps=_optional_number(e, "burst_fps"),
        simulated=e.get("simulated") is True,
        dev_mode=e.get("dev_mode") is True,
        jpeg_quality=None if quality is None else int(quality),
        audio_interval_s=_optional_number(e, "audio_interval_s"),
        notice=notice if isinstance(notice, str) else None,
        raw=dict(e),
    )


def _rate(e: dict[str, Any]) -> Rate:
    return Rate(video_fps=_number(e, "video_fps"))


def _audio(e: dict[str, Any]) -> AudioHint:
    wanted = e.get("wanted")
    if not isinstance(wanted, bool):
        raise BadEvent("audio: `wanted` must be true or false")
    if wanted:
        return AudioHint(wanted=True, resume_in_s=0.0)
    resume_in_ms = _optional_number(e, "resume_in_ms")
    if resume_in_ms is None:  # a service that sends only until_ms (its own clock)
        resume_in_ms = max(0.0, _number(e, "until_ms") - time.time() * 1000)
    resume_in_s = resume_in_ms / 1000
    if resume_in_s > MAX_AUDIO_PAUSE_S:
        raise BadEvent(f"audio: a pause of {resume_in_s:.0f} s is implausible")
    return AudioHint(wanted=False, resume_in_s=resume_in_s)


def _alert(e: dict[str, Any]) -> DeepfakeAlert:
    for key in ("id", "participant_id", "track_id", "message"):
        _string(e, key)
    _level(e, "previous_level")
    _number(e, "timestamp_ms")
    try:
        return DeepfakeAlert.from_event(e)
    except ValueError as err:
        raise BadEvent(str(err)) from None


def _upstream(e: dict[str, Any]) -> Upstream:
    status = e.get("status")
    if status not in ("connected", "reconnecting"):
        raise BadEvent(f"upstream: unknown status {status!r}")
    return Upstream(status=status, retry_in_ms=_optional_number(e, "retry_in_ms"))


def _upstream_error(e: dict[str, Any]) -> UpstreamError:
    return UpstreamError(track_id=str(e.get("track_id", "")), message=_string(e, "message"))


def _error(e: dict[str, Any]) -> ServerError:
    return ServerError(code=_string(e, "code"), message=str(e.get("message", "")))


def _check_started(e: dict[str, Any]) -> CheckStarted:
    return CheckStarted(check_id=_string(e, "check_id"), until_ms=_number(e, "until_ms"))


def _check_completed(e: dict[str, Any]) -> CheckCompleted:
    outcome = e.get("outcome")
    if outcome not in ("answered", "window_ended", "no_media"):
        raise BadEvent(f"check_completed: unknown outcome {outcome!r}")
    tracks = e.get("tracks")
    if not isinstance(tracks, list) or not all(isinstance(t, dict) for t in tracks):
        raise BadEvent("check_completed: `tracks` must be a list of objects")
    return CheckCompleted(
        id=_string(e, "id"),
        check_id=_string(e, "check_id"),
        level=_level(e, "level"),
        outcome=outcome,
        results=int(_number(e, "results")),
        tracks=tuple((_string(t, "track_id"), _level(t, "level")) for t in tracks),
        started_ms=_number(e, "started_ms"),
        completed_ms=_number(e, "completed_ms"),
        simulated=e.get("simulated") is True,
        raw=e,
    )


_PARSERS = {
    "ready": _ready,
    "rate": _rate,
    "audio": _audio,
    "deepfake_alert": _alert,
    "upstream": _upstream,
    "upstream_error": _upstream_error,
    "error": _error,
    "check_started": _check_started,
    "check_completed": _check_completed,
}


def _string(e: dict[str, Any], key: str) -> str:
    value = e.get(key)
    if not isinstance(value, str):
        raise BadEvent(f"{e.get('type')}: `{key}` must be a string, got {type(value).__name__}")
    return value


def _level(e: dict[str, Any], key: str) -> str:
    value = e.get(key)
    if value not in LEVELS:
        raise BadEvent(f"{e.get('type')}: `{key}` must be one of {', '.join(LEVELS)}, got {value!r}")
    return value


def _number(e: dict[str, Any], key: str) -> float:
    value = e.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise BadEvent(f"{e.get('type')}: `{key}` must be a number >= 0, got {value!r}")
    return float(value)


def _optional_number(e: dict[str, Any], key: str) -> float | None:
    return None if e.get(key) is None else _number(e, key)
