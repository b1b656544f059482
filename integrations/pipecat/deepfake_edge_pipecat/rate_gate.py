"""Client-side video rate limiting, the same deadline schedule as the service's sampler.

The service announces its sampling rate in ``ready`` and ``rate`` events; a client that promises
``Hello.honors_rate`` sends no more. Like the service's sampler (src/media/sampler.ts) each track keeps
a schedule of deadlines rather than "at least 1/fps since the last frame", so a 15 fps camera sampled
at 0.2 fps averages exactly 0.2 fps, and a gap never turns into a burst of catch-up frames.

The tolerance is small on purpose: the service accepts frames up to 25 % of a period early, so a
client that takes frames at most 5 % early leaves the rest to network jitter and never has a frame
it sent refused.
"""

from __future__ import annotations

from collections import OrderedDict

CLIENT_SAMPLER_TOLERANCE_RATIO = 0.05
MAX_TRACKS = 32


class TrackSchedule:
    """The schedule of one track. Times are seconds on a monotonic clock."""

    __slots__ = ("_fps", "_tolerance", "_next_deadline", "_last_taken")

    def __init__(self, fps: float, tolerance_ratio: float = CLIENT_SAMPLER_TOLERANCE_RATIO) -> None:
        if not 0 <= tolerance_ratio < 1:
            raise ValueError(f"tolerance_ratio must be in [0, 1), got {tolerance_ratio}")
        self._tolerance = tolerance_ratio
        self._fps = _check_fps(fps)
        self._next_deadline: float | None = None
        self._last_taken: float | None = None

    @property
    def fps(self) -> float:
        return self._fps

    def set_fps(self, fps: float) -> None:
        """A new rate: the next frame is due one new period after the last taken one."""
        fps = _check_fps(fps)
        if fps == self._fps:
            return
        self._fps = fps
        period = self._period()
        self._next_deadline = None if self._last_taken is None or period is None else self._last_taken + period

    def offer(self, now: float) -> bool:
        """True when a frame offered at ``now`` is due (the slot is then used up)."""
        period = self._period()
        if period is None:
            return False
        deadline = self._next_deadline
        if deadline is not None and now < deadline - self._tolerance * period:
            return False
        # On schedule (or early within tolerance): keep the schedule. Late, or the first frame:
        # re-anchor on this frame.
        self._next_deadline = (now if deadline is None or now > deadline else deadline) + period
        self._last_taken = now
        return True

    def _period(self) -> float | None:
        return 1.0 / self._fps if self._fps > 0 else None


class RateGate:
    """One schedule per track, all moved together by the announced rate; closed until announced."""

    def __init__(self, tolerance_ratio: float = CLIENT_SAMPLER_TOLERANCE_RATIO) -> None:
        self._tolerance = tolerance_ratio
        self._fps: float | None = None
        self._tracks: OrderedDict[str, TrackSchedule] = OrderedDict()

    @property
    def fps(self) -> float | None:
        """The announced rate, or None before the service announced one."""
        return self._fps

    def set_fps(self, fps: float) -> None:
        self._fps = _check_fps(fps)
        for schedule in self._tracks.values():
            schedule.set_fps(self._fps)

    def take(self, track_id: str, now: float) -> bool:
        if self._fps is None:
            return False
        schedule = self._tracks.get(track_id)
        if schedule is None:
            if len(self._tracks) >= MAX_TRACKS:
                self._tracks.popitem(last=False)
            schedule = TrackSchedule(self._fps, self._tolerance)
            self._tracks[track_id] = schedule
        return schedule.offer(now)


def _check_fps(fps: float) -> float:
    fps = float(fps)
    if fps != fps or fps < 0:
        raise ValueError(f"fps must be >= 0, got {fps}")
    return fps
