"""Moving a reference bot over (docs/DESIGN.md §10), against a real `wrangler dev` with the simulator.

The bot in reference_bot.py is written as the reference's users wrote theirs, with only its imports
changed; it runs under a stand-in SmallWebRTC transport that feeds a 640x480 camera at 15 fps and a
16 kHz microphone, and emits no speaking frames (as pipecat 1.14's transport.input() without a VAD).
"""

from __future__ import annotations

import asyncio
import io
import math
import secrets
import struct
import time
from typing import Any

import aiohttp
import numpy as np
import pytest
from loguru import logger
from PIL import Image
from pipecat.frames.frames import InputAudioRawFrame, UserImageRawFrame

from deepfake_edge_pipecat.compat import AudioParams, DataspikeDeepfakeProcessor, EventType, VideoParams
from deepfake_edge_pipecat.participant import encode_participant_id

from . import reference_bot
from .conftest import ADMIN_KEY, Pacer, RunningPipeline, WranglerDev, get_json, measure, post_json
from .fake_transport import FakeClient, FakeTransport, RunnerArgs

CAMERA_FPS = 15
MIC_RATE = 16_000
MIC_FRAME_S = 0.02
SPEECH = (2.0, 9.5)  # seconds into the call: 7.5 s of speech = 2 full chunks + a padded 1.5 s one


def camera_image(seed: int = 7) -> bytes:
    """A 640x480 RGB frame with a camera's texture (smooth shapes plus sensor noise)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:480, 0:640].astype(np.float32)
    base = np.stack([128 + 80 * np.sin(x / 57 + k) * np.cos(y / 43 - k) for k in range(3)], axis=-1)
    noise = rng.normal(0, 6, size=base.shape)
    return np.clip(base + noise, 0, 255).astype(np.uint8).tobytes()


def reference_jpeg_bytes(image: bytes) -> int:
    """What the reference sent per sampled frame: the frame as a JPEG at its default quality 75."""
    out = io.BytesIO()
    Image.frombuffer("RGB", (640, 480), image, "raw", "RGB", 0, 1).save(out, "JPEG", quality=75)
    return len(out.getvalue())


def mic_frame(index: int, speaking: bool) -> InputAudioRawFrame:
    n = int(MIC_RATE * MIC_FRAME_S)
    if not speaking:
        return InputAudioRawFrame(audio=bytes(2 * n), sample_rate=MIC_RATE, num_channels=1)
    start = index * n
    pcm = struct.pack(f"<{n}h", *(int(8000 * math.sin(2 * math.pi * 220 * (start + i) / MIC_RATE)) for i in range(n)))
    return InputAudioRawFrame(audio=pcm, sample_rate=MIC_RATE, num_channels=1)


async def level_of(http: aiohttp.ClientSession, url: str) -> str:
    return (await get_json(http, url))["level"]


async def until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


@pytest.mark.timeout(150)
async def test_the_reference_bot_with_only_its_imports_changed(
    edge: WranglerDev, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = FakeClient()
    encoded = encode_participant_id(client.pc_id)
    assert encoded != client.pc_id and "#" in client.pc_id
    # The bot's backend mints a token with scope stream for the participant; the bot gets no admin key.
    minted = await post_json(http, f"{edge.url}/v1/tokens", {"participant_id": encoded, "ttl_s": 600, "scope": "stream"})
    monkeypatch.setenv("DEEPFAKE_EDGE_URL", edge.url)
    monkeypatch.setenv("DEEPFAKE_EDGE_TOKEN", minted["token"])
    monkeypatch.delenv("DEEPFAKE_EDGE_ADMIN_KEY", raising=False)
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="INFO", format="{message}")
    handled = lambda word: [line for line in lines if line.startswith(word)]  # noqa: E731
    sim_url = f"{edge.url}/v1/dev/simulator/{encoded}"
    participant_url = f"{edge.url}/v1/participants/{encoded}"
    image = camera_image()
    transport = FakeTransport()
    bot = asyncio.create_task(reference_bot.run_bot(transport, RunnerArgs()))
    stop = asyncio.Event()
    try:
        await transport.started()
        await transport.connect(client)
        processor: DataspikeDeepfakeProcessor = transport.processor
        await processor.wait_ready(30)
        t0 = time.monotonic()

        async def camera() -> None:
            pacer = Pacer(CAMERA_FPS)
            while not stop.is_set():
                frame = UserImageRawFrame(user_id="u", image=image, size=(640, 480), format="RGB")
                frame.transport_source = "camera"
                await transport.feed(frame)
                await pacer.tick()

        async def microphone() -> None:
            pacer, i = Pacer(1 / MIC_FRAME_S), 0
            while not stop.is_set():
                now = time.monotonic() - t0
                await transport.feed(mic_frame(i, SPEECH[0] <= now < SPEECH[1]))
                i += 1
                await pacer.tick()

        sources = [asyncio.create_task(camera()), asyncio.create_task(microphone())]
        # SUSPICIOUS alone: the reference never called back for it.
        await post_json(http, sim_url, {"level": "suspicious"})
        await until(lambda: _is(http, participant_url, "suspicious"), 12, "SUSPICIOUS")
        await until(lambda: _now(processor.state == EventType.SUSPICIOUS), 5, "the processor's state")
        await asyncio.sleep(3)
        assert handled("DEEPFAKE ALERT") == [] and handled("All clear") == []
        # Entering ALERT calls back once; so does ALERT -> CLEAR.
        await post_json(http, sim_url, {"level": "alert"})
        await until(lambda: _now(bool(handled("DEEPFAKE ALERT"))), 12, "the ALERT callback")
        states = [processor.state]
        await post_json(http, sim_url, {"level": "clear"})
        await until(lambda: _now(bool(handled("All clear"))), 12, "the CLEAR callback")
        remaining = max(20.0, SPEECH[1] + 1.5) - (time.monotonic() - t0)
        await asyncio.sleep(max(0.0, remaining))
        camera_s = time.monotonic() - t0
        stop.set()
        await asyncio.gather(*sources)
        await asyncio.sleep(1.0)
        sim = await get_json(http, sim_url)
        stats = processor.stats
        await transport.disconnect(client)
        await asyncio.wait_for(bot, 30)
    finally:
        stop.set()
        logger.remove(sink)
        if not bot.done():
            bot.cancel()

    alerts, clears = handled("DEEPFAKE ALERT"), handled("All clear")
    track_ids = (client.video_input_track().id, client.audio_input_track().id)
    measure(f"reference bot: handler lines {alerts + clears}")
    assert len(alerts) == 1 and len(clears) == 1 and states == [EventType.ALERT]
    for line in alerts + clears:
        assert client.pc_id in line and any(f"(track {t})" in line for t in track_ids)
    # Speech reached the API as 96 000-byte chunks with no speaking frames in the pipeline (the
    # simulator refuses any other size); the service's voice gate decided.
    assert sim["pcm_chunks"] == 3 and sim["rejected"] == 0, sim.get("last_rejection")
    assert stats["vad"] == "service" and stats["audio_frames_outside_speech"] == 0
    assert stats["participant_id"] == client.pc_id
    # Bandwidth: each sampled frame went as a JPEG at the deployment's quality, decoded at full size.
    assert (sim["last_jpeg"]["width"], sim["last_jpeg"]["height"]) == (640, 480)
    reference = stats["video_frames_sent"] * reference_jpeg_bytes(image)
    measure(
        f"reference bot: {camera_s:.1f} s of 640x480 camera at {CAMERA_FPS} fps: {stats['video_frames_sent']} frames, "
        f"{stats['video_bytes_sent']} video bytes on the socket; the reference's encoding: {reference} bytes "
        f"({stats['video_bytes_sent'] / reference:.2f}x); raw would have been {stats['video_frames_sent'] * 921_600} bytes"
    )
    assert stats["video_frames_sent"] >= 4 and stats["video_bytes_sent"] <= 2 * reference


async def _is(http: aiohttp.ClientSession, url: str, level: str) -> bool:
    return await level_of(http, url) == level


async def _now(value: bool) -> bool:
    return value


@pytest.mark.timeout(150)
async def test_video_params_lower_the_rates_and_the_audio_hint_pauses_speech(http: aiohttp.ClientSession) -> None:
    with pytest.raises(TypeError):
        DataspikeDeepfakeProcessor(base_url="http://127.0.0.1:9", notification_callbak=print)  # type: ignore[call-arg]
    # No token secret here (development mode), and a short audio interval to see the pause end.
    server = WranglerDev({"AUDIO_INTERVAL_S": "6"})
    server.start()
    participant = f"compat-{secrets.token_hex(4)}"
    sim_url = f"{server.url}/v1/dev/simulator/{participant}"
    image = camera_image()
    # interval=5 is shorter than the deployment's 6 s: logged once, and the service's pause applies.
    processor = DataspikeDeepfakeProcessor(
        base_url=server.url, video_params=VideoParams(normal_fps=0.1, burst_fps=0.5), audio_params=AudioParams(interval=5)
    )
    arrivals: list[float] = []
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="WARNING", format="{message}")
    try:
        async with RunningPipeline(processor) as pipeline:
            await processor.start()
            processor.set_participant_id(participant)
            ready = await processor.wait_ready(30)
            stop = asyncio.Event()

            async def camera() -> None:
                pacer = Pacer(CAMERA_FPS)
                while not stop.is_set():
                    frame = UserImageRawFrame(user_id="u", image=image, size=(640, 480), format="RGB")
                    frame.transport_source = "camera"
                    await pipeline.push(frame)
                    await pacer.tick()

            async def microphone() -> None:
                pacer, i = Pacer(1 / MIC_FRAME_S), 0
                while not stop.is_set():
                    await pipeline.push(mic_frame(i, True))  # one long utterance
                    i += 1
                    await pacer.tick()

            async def clock() -> None:
                seen = 0
                while True:
                    count = (await get_json(http, sim_url))["jpeg_frames"]
                    arrivals.extend([time.monotonic()] * (count - seen))
                    seen = count
                    await asyncio.sleep(0.2)

            tasks = [asyncio.create_task(f()) for f in (camera, microphone, clock)]
            try:
                t0 = time.monotonic()
                await asyncio.sleep(21.0)
                clear_end = time.monotonic()
                await post_json(http, sim_url, {"level": "suspicious"})
                await until(lambda: _now(processor.video_fps == 0.5), 12, "the SUSPICIOUS rate")
                t1 = time.monotonic()
                await asyncio.sleep(6.5)
                suspicious_end = time.monotonic()
            finally:
                stop.set()
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            stats = processor.stats
            sim = await get_json(http, sim_url)
            await processor.stop()
            await pipeline.finish()
    finally:
        logger.remove(sink)
        server.close()

    clear = [t for t in arrivals if t0 - 1 <= t <= clear_end]
    suspicious = [t for t in arrivals if t1 - 0.1 <= t <= suspicious_end]
    clear_rate = (len(clear) - 1) / (clear[-1] - clear[0])
    suspicious_rate = (len(suspicious) - 1) / (suspicious[-1] - suspicious[0])
    measure(f"VideoParams(normal_fps=0.1, burst_fps=0.5): CLEAR {len(clear)} JPEGs, {clear_rate:.3f} fps; "
            f"SUSPICIOUS {len(suspicious)} JPEGs, {suspicious_rate:.3f} fps")
    measure(f"audio hint (AUDIO_INTERVAL_S=6): {stats['audio_hints']} hints, {stats['audio_frames_not_wanted']} frames held back, "
            f"{sim['pcm_chunks']} chunks")
    assert ready["video_fps"] == 0.1 and ready["normal_fps"] == 0.1 and ready["burst_fps"] == 0.5  # the service took them
    assert 0.09 <= clear_rate <= 0.115 and 0.45 <= suspicious_rate <= 0.55
    # One long utterance: a chunk after 3 s of speech, then the 6 s pause the service announced, in
    # which the processor sent no audio, then speech again.
    assert stats["audio_hints"] >= 2 and stats["audio_frames_not_wanted"] > 0.8 * 6 / MIC_FRAME_S
    assert sim["pcm_chunks"] >= 3 and sim["rejected"] == 0
    assert len([line for line in lines if "interval=5 s is shorter than this deployment's 6 s" in line]) == 1
