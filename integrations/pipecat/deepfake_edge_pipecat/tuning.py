"""A bot's own limits on what it sends: lower video rates, a lower JPEG quality, a longer audio pause.

The deployment's settings are the ceiling (docs/DESIGN.md §4): a connection can lower its video rates
(``?normal_fps=&burst_fps=`` on the stream URL, the service then announces the lowered rate), and the
processor keeps its own JPEG quality and audio pause at or below the service's. A value the service
cannot honour (above its rate, above its quality, a pause shorter than its interval) is logged once
and the service's value applies; nothing is dropped silently. Pure, apart from the log lines.
"""

from __future__ import annotations

import math

from loguru import logger

from .events import Ready
from .frames import DEFAULT_JPEG_QUALITY

RATE_KEYS = ("normal_fps", "burst_fps")


def _check(name: str, value: float | None, upper: float = math.inf) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= upper:
        raise ValueError(f"{name} must be a number from 0 to {upper:g}, got {value!r}")
    return float(value)


class Tuning:
    def __init__(
        self,
        normal_fps: float | None = None,
        burst_fps: float | None = None,
        jpeg_quality: int | None = None,
        audio_interval_s: float | None = None,
        source: str = "",
    ) -> None:
        rates = (("normal_fps", _check("normal_fps", normal_fps)), ("burst_fps", _check("burst_fps", burst_fps)))
        self.wanted = {k: v for k, v in rates if v is not None}
        self.jpeg_quality = _check("jpeg_quality", jpeg_quality, 100)
        self.audio_interval_s = _check("audio_interval_s", audio_interval_s)
        self._source = source  # how the bot named these settings, for the log lines ("VideoParams.")
        self._deployment: dict[str, float] = {}
        self._refused = False
        self._sent: dict[str, float] = {}
        self._logged: set[str] = set()

    # ---- video rates ------------------------------------------------------------------------

    def url_overrides(self) -> dict[str, float]:
        """The overrides for the next connection's URL: only those that lower the deployment's rate."""
        out: dict[str, float] = {}
        if not self._refused:
            for key, want in self.wanted.items():
                ceiling = self._deployment.get(key)
                if ceiling is None or want < ceiling:
                    out[key] = want
        self._sent = out
        return out

    def refused(self) -> None:
        """The service answered 400 to the overrides: connect without them until its rates are known."""
        self._refused = True
        asked = ", ".join(f"{self._source}{k}={v:g}" for k, v in self._sent.items())
        self._log_once("refused", f"deepfake-edge: the service refused {asked} (a connection can only lower the "
                       "deployment's rates); connecting with its rates, the processor keeps yours where lower")

    def on_ready(self, ready: Ready) -> None:
        """Learns the deployment's rates, quality and interval; logs what cannot be honoured, once."""
        for key in RATE_KEYS:
            value = getattr(ready, key)
            if value is not None and key not in self._sent:
                self._deployment[key] = value
        self._refused = False  # the deployment's rates are known now: the next URL carries only valid ones
        mine = f"deepfake-edge: {self._source}"
        for key, want in self.wanted.items():
            ceiling = self._deployment.get(key)
            if ceiling is not None and want > ceiling:
                self._log_once(key, f"{mine}{key}={want:g} is above this deployment's {ceiling:g} fps: the service "
                               f"samples at most {ceiling:g} (a connection can only lower its rates)")
        quality = ready.jpeg_quality
        if self.jpeg_quality is not None and quality is not None and self.jpeg_quality > quality:
            self._log_once("quality", f"{mine}quality={self.jpeg_quality:g} is above this deployment's {quality}: "
                           f"frames are encoded at {quality}")
        own, deployment = self.audio_interval_s, ready.audio_interval_s
        if own is not None and deployment is not None:
            if own < deployment:
                self._log_once("interval", f"{mine}interval={own:g} s is shorter than this deployment's "
                               f"{deployment:g} s between audio chunks: the service's interval applies")
            elif deployment == 0 and own > 0:
                self._log_once("interval", f"{mine}interval={own:g} s cannot be kept: this deployment sends "
                               "audio chunks without a pause and announces none")

    def video_fps(self, announced: float, level: str) -> float:
        """The rate the processor keeps: the service's, lowered by the bot's own for the level."""
        own = self.wanted.get("burst_fps" if level == "suspicious" else "normal_fps")
        return announced if own is None else min(announced, own)

    # ---- JPEG and audio ---------------------------------------------------------------------

    def quality(self, announced: int | None) -> int:
        deployment = DEFAULT_JPEG_QUALITY if announced is None else announced
        return int(deployment if self.jpeg_quality is None else min(deployment, self.jpeg_quality))

    def audio_pause_s(self, resume_in_s: float) -> float:
        """How long to send no audio after the service said it wants none for ``resume_in_s``."""
        return resume_in_s if self.audio_interval_s is None else max(resume_in_s, self.audio_interval_s)

    def _log_once(self, key: str, message: str) -> None:
        if key not in self._logged:
            self._logged.add(key)
            logger.warning(message)
