"""A stand-in for SmallWebRTCTransport with what a reference-style bot uses of it: input() and output()
processors, event handlers, capture_participant_video(), and a client whose pc_id has a '#'.

The test feeds camera and microphone frames into input() as a transport would; nothing else is faked.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from typing import Any

from pipecat.frames.frames import Frame, StartFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor


class _Input(FrameProcessor):
    def __init__(self) -> None:
        super().__init__(name="fake-transport-input")
        self.started = asyncio.Event()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, StartFrame):
            self.started.set()
        await self.push_frame(frame, direction)

    async def feed(self, frame: Frame) -> None:
        await self.push_frame(frame, FrameDirection.DOWNSTREAM)


class _Output(FrameProcessor):
    def __init__(self) -> None:
        super().__init__(name="fake-transport-output")
        self.frames = 0

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        self.frames += 1
        await self.push_frame(frame, direction)


@dataclass
class _Track:
    id: str


class FakeClient:
    """Like SmallWebRTCConnection: a pc_id with '#', and input tracks with ids."""

    def __init__(self) -> None:
        self.pc_id = f"SmallWebRTCConnection#0-{secrets.token_hex(8)}"
        self._video, self._audio = _Track(f"video-{secrets.token_hex(4)}"), _Track(f"audio-{secrets.token_hex(4)}")

    def video_input_track(self) -> _Track:
        return self._video

    def audio_input_track(self) -> _Track:
        return self._audio


@dataclass
class RunnerArgs:
    body: Any = None
    handle_sigint: bool = False


class FakeTransport:
    def __init__(self) -> None:
        self._input, self._output = _Input(), _Output()
        self._handlers: dict[str, Any] = {}
        self.captured: list[str] = []

    def input(self) -> FrameProcessor:
        return self._input

    def output(self) -> FrameProcessor:
        return self._output

    @property
    def processor(self) -> Any:
        """The processor the bot put after input()."""
        return self._input.next

    def event_handler(self, name: str) -> Any:
        def register(fn: Any) -> Any:
            self._handlers[name] = fn
            return fn

        return register

    async def capture_participant_video(self, source: str) -> None:
        self.captured.append(source)

    async def started(self, timeout: float = 20) -> None:
        await asyncio.wait_for(self._input.started.wait(), timeout)

    async def connect(self, client: FakeClient) -> None:
        await self._handlers["on_client_connected"](self, client)

    async def disconnect(self, client: FakeClient) -> None:
        await self._handlers["on_client_disconnected"](self, client.pc_id)

    async def feed(self, frame: Frame) -> None:
        await self._input.feed(frame)
