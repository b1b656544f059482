"""``await processor.check_now()`` (docs/DESIGN.md §13) in a real Pipecat pipeline against a real `wrangler dev`.

Without media the check ends with its window (``no_media``); with the camera streaming, the simulator's
answer to a frame sampled in the window completes it ``answered``. A window over 60 s is refused at once.
"""

from __future__ import annotations

import asyncio
import secrets
import time

import aiohttp
import numpy as np
import pytest
from pipecat.frames.frames import UserImageRawFrame

from deepfake_edge_pipecat import CheckError, DeepfakeEdgeProcessor

from .conftest import ADMIN_KEY, Pacer, RunningPipeline, WranglerDev, measure


@pytest.mark.timeout(90)
async def test_check_now_returns_the_completed_check(edge: WranglerDev, http: aiohttp.ClientSession) -> None:
    participant = f"check-{secrets.token_hex(4)}"
    processor = DeepfakeEdgeProcessor(edge.url, participant_id=participant, admin_key=ADMIN_KEY)
    image = np.full((240, 320, 3), 90, dtype=np.uint8).tobytes()
    async with RunningPipeline(processor) as pipeline:
        await processor.start()
        await processor.wait_ready(30)
        with pytest.raises(ValueError):
            await processor.check_now(61)

        # No media: the 2 s window ends on the object's alarm, with no result.
        started = time.monotonic()
        quiet = await processor.check_now(2)
        assert quiet.outcome == "no_media"
        assert quiet.results == 0 and quiet.tracks == ()
        assert quiet.completed_ms - quiet.started_ms >= 2000
        assert time.monotonic() - started < 10

        # The camera streams at 5 fps: the first frame sampled in the window is answered.
        async def camera() -> None:
            pacer = Pacer(5)
            while True:
                frame = UserImageRawFrame(user_id=participant, image=image, size=(320, 240), format="RGB")
                frame.transport_source = "camera"
                await pipeline.push(frame)
                await pacer.tick()

        streaming = asyncio.create_task(camera())
        try:
            started = time.monotonic()
            answered = await processor.check_now(20)
            took = time.monotonic() - started
        finally:
            streaming.cancel()
        assert answered.outcome == "answered"
        assert answered.check_id != quiet.check_id
        assert answered.results >= 1
        assert [track for track, _ in answered.tracks] == ["camera"]
        assert answered.level == "clear" and answered.simulated
        assert answered.completed_ms < answered.started_ms + 20_000
        measure(f"check_now with the camera streaming: answered in {took:.2f} s")

        # New checks are rate-limited per participant: the refusal arrives as a CheckError with its code.
        with pytest.raises(CheckError) as refused:
            for _ in range(12):  # past the rate limit of 10 new checks per participant in 10 minutes
                await asyncio.wait_for(processor.check_now(1), 20)
        assert refused.value.code == "check_rate_limited"
        await processor.stop()
