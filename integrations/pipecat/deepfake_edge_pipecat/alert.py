"""The typed form of the service's ``deepfake_alert`` event (docs/DESIGN.md §7 payload)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

LEVELS = ("clear", "suspicious", "alert")


@dataclass(frozen=True, slots=True)
class DeepfakeAlert:
    """One transition of a participant's detection level, exactly as the service pushed it.

    ``reason`` is ``"result"`` for a detection result, or ``"track_expired"`` / ``"track_closed"``
    when a track that stopped counting moved the level. ``simulated`` is true when the service's
    development simulator produced the result (never a real detection). Servers that do not send
    these two yet get the defaults.
    """

    type: str
    id: str
    level: str
    previous_level: str
    participant_id: str
    track_id: str
    message: str
    timestamp_ms: int
    reason: str = "result"
    simulated: bool = False
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> "DeepfakeAlert":
        """Builds one from a parsed ``deepfake_alert`` event; raises ValueError when it is not one."""
        if not isinstance(event, dict) or event.get("type") != "deepfake_alert":
            raise ValueError("not a deepfake_alert event")
        level = event.get("level")
        if level not in LEVELS:
            raise ValueError(f"deepfake_alert with unknown level {level!r}")
        timestamp = event.get("timestamp_ms")
        return cls(
            type="deepfake_alert",
            id=str(event.get("id", "")),
            level=level,
            previous_level=str(event.get("previous_level", "")),
            participant_id=str(event.get("participant_id", "")),
            track_id=str(event.get("track_id", "")),
            message=str(event.get("message", "")),
            timestamp_ms=int(timestamp) if isinstance(timestamp, (int, float)) else 0,
            reason=str(event.get("reason") or "result"),
            simulated=event.get("simulated") is True,
            raw=dict(event),
        )

    def with_participant(self, participant_id: str) -> "DeepfakeAlert":
        """The same event with the participant id the bot set (the service may know it encoded)."""
        if participant_id == self.participant_id:
            return self
        return replace(self, participant_id=participant_id, raw=dict(self.raw, participant_id=participant_id))

    def log_line(self) -> str:
        """The reference processor's log line: its six fields, as one line of JSON."""
        return json.dumps(
            {
                "type": self.type,
                "level": self.level,
                "participant_id": self.participant_id,
                "track_id": self.track_id,
                "message": self.message,
                "timestamp_ms": self.timestamp_ms,
            }
        )
