"""The service goes away mid-call: the pipeline keeps flowing, and the processor reconnects when it is back.

This wrangler dev has no token secret, so the processor connects without a token (development mode).
"""

from __future__ import annotations

import asyncio
import secrets
import time

import aiohttp
import pytest
from pipecat.frames.frames import UserImageRawFrame

from deepfake_edge_pipecat import DeepfakeEdgeProcessor

from .conftest import measure, Pacer, RunningPipeline, WranglerDev, get_json

DOWN_S = 6.0


@pytest.mark.timeout(240)
async def test_pipeline_keeps_flowing_while_the_service_is_down_and_reconnects(http: aiohttp.ClientSession) -> None:
    server = WranglerDev({})
    server.start()
    participant = f"pipecat-rc-{secrets.token_hex(4)}"
    image = bytes(range(256)) * (640 * 480 * 3 // 256)
    processor = DeepfakeEdgeProcessor(server.url, participant_id=participant)
    try:
        async with RunningPipeline(processor) as pipeline:
            await processor.start()
            await processor.wait_ready(30)
            stop = asyncio.Event()

            async def camera() -> None:
                pacer = Pacer(15)
                while not stop.is_set():
                    frame = UserImageRawFrame(user_id="u1", image=image, size=(640, 480), format="RGB")
                    frame.transport_source = "camera"
                    await pipeline.push(frame)
                    await pacer.tick()

            source = asyncio.create_task(camera())
            try:
                sim = f"{server.url}/v1/dev/simulator/{participant}"
                await asyncio.wait_for(_until_jpeg(http, sim, 1), 10)

                # Down: the pipeline does not wait for the service.
                await asyncio.to_thread(server.kill9)
                down_at = time.monotonic()
                in_before = pipeline.counts_in["UserImageRawFrame"]
                await asyncio.sleep(DOWN_S)
                flowed_while_down = pipeline.sink.counts["UserImageRawFrame"] - in_before
                stats_down = processor.stats
                state_down = processor.state
                assert not processor.ready

                # Back on the same port (fresh storage, so the simulator starts counting at 0).
                await asyncio.to_thread(server.start)  # the pipeline keeps running meanwhile
                back_at = time.monotonic()
                await processor.wait_ready(40)
                reconnected_at = time.monotonic()
                await asyncio.wait_for(_until_jpeg(http, sim, 1), 10)
            finally:
                stop.set()
                await source
            stats = processor.stats
            await processor.stop()
            await pipeline.finish()
    finally:
        server.close()

    measure(
        f"service down {back_at - down_at:.1f} s, reconnected {reconnected_at - back_at:.1f} s after it was back; "
        f"{flowed_while_down} camera frames flowed downstream in {DOWN_S:.0f} s while it was down"
    )
    measure(f"reconnect stats {stats}")
    assert flowed_while_down >= 0.9 * 15 * DOWN_S
    assert state_down in ("reconnecting", "connecting")
    assert stats_down["reconnects"] >= 1 and stats_down["dropped_disconnected"] > 0
    assert stats["connects"] == 2
    # Frames kept flowing during the restart too (15 fps for the whole test, nothing held back).
    assert pipeline.counts_in["UserImageRawFrame"] >= 0.9 * 15 * (reconnected_at - down_at)
    assert pipeline.sink.counts == pipeline.counts_in
    assert pipeline.sink.changed == 0


async def _until_jpeg(http: aiohttp.ClientSession, url: str, n: int) -> None:
    while True:
        try:
            if (await get_json(http, url))["jpeg_frames"] >= n:
                return
        except (aiohttp.ClientError, AssertionError):
            pass
        await asyncio.sleep(0.2)
