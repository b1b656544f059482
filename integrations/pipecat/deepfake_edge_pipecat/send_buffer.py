"""A bounded send buffer that never blocks the producer: when full it drops the OLDEST media item.

Control messages (Hello, Speaking) are small and carry state, so they are never dropped for media.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Outgoing:
    kind: str  # "video" | "audio" | "control"
    payload: Any
    size: int


class SendBuffer:
    def __init__(self, max_items: int, max_bytes: int) -> None:
        if max_items < 1 or max_bytes < 1:
            raise ValueError("max_items and max_bytes must be >= 1")
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._items: deque[Outgoing] = deque()
        self._bytes = 0
        self._event = asyncio.Event()
        self.dropped = 0
        self.dropped_bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def buffered_bytes(self) -> int:
        return self._bytes

    def put(self, item: Outgoing) -> int:
        """Appends without waiting; returns how many older media items were dropped to make room."""
        dropped = 0
        while self._items and (len(self._items) >= self.max_items or self._bytes + item.size > self.max_bytes):
            if not self._drop_oldest_media():
                break
            dropped += 1
        if item.kind != "control" and (len(self._items) >= self.max_items or self._bytes + item.size > self.max_bytes):
            # Only control messages are left (or the item alone is too large): drop the newcomer.
            self._count_drop(item)
            return dropped + 1
        self._items.append(item)
        self._bytes += item.size
        self._event.set()
        return dropped

    async def get(self) -> Outgoing:
        while not self._items:
            self._event.clear()
            await self._event.wait()
        item = self._items.popleft()
        self._bytes -= item.size
        return item

    def clear(self) -> int:
        """Forgets everything (the socket went away); the dropped media is counted."""
        n = 0
        while self._items:
            item = self._items.popleft()
            if item.kind != "control":
                self._count_drop(item)
                n += 1
        self._bytes = 0
        return n

    def _drop_oldest_media(self) -> bool:
        for i, item in enumerate(self._items):
            if item.kind != "control":
                del self._items[i]
                self._bytes -= item.size
                self._count_drop(item)
                return True
        return False

    def _count_drop(self, item: Outgoing) -> None:
        self.dropped += 1
        self.dropped_bytes += item.size
