"""A real Pipecat pipeline with the processor, against a real `wrangler dev` with the simulator.

It pushes 640x480 RGB camera frames at 15 fps, screen-share frames and 48 kHz audio between speaking
markers, steers the simulator, and checks from GET /v1/dev/simulator/:id and the participant's
counters what reached the service; and that every frame came out of the pipeline unchanged.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import struct
import time
from typing import Any

import aiohttp
import numpy as np
import pytest
from pipecat.frames.frames import (
    InputAudioRawFrame,
    UserImageRawFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)

from deepfake_edge_pipecat import DeepfakeAlert, DeepfakeEdgeProcessor

from .conftest import measure, ADMIN_KEY, Pacer, RunningPipeline, WranglerDev, get_json, post_json

CAMERA_FPS = 15
SCREEN_FPS = 5
AUDIO_RATE = 48_000
AUDIO_FRAME_S = 0.02
CLEAR_PHASE_S = 21.0
SUSPICIOUS_PHASE_S = 10.5
SPEECH = (2.0, 9.5)  # seconds into the CLEAR phase: 7.5 s of speech = 2 full chunks + 1.5 s padded


def camera_images() -> list[bytes]:
    """A few distinct 640x480 RGB24 images (gradients), made once."""
    y, x = np.mgrid[0:480, 0:640]
    return [
        np.stack([(x * 255 // 639 + 40 * k) % 256, (y * 255 // 479) % 256, ((x + y + 60 * k) // 5) % 256], axis=-1)
        .astype(np.uint8)
        .tobytes()
        for k in range(3)
    ]


def tone(frame_index: int, samples: int) -> bytes:
    start = frame_index * samples
    return struct.pack(
        f"<{samples}h", *(int(8000 * math.sin(2 * math.pi * 220 * (start + i) / AUDIO_RATE)) for i in range(samples))
    )


class JpegClock:
    """Polls the simulator and records when each JPEG arrived."""

    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http, self.url = http, url
        self.arrivals: list[float] = []
        self.last: dict[str, Any] = {}
        self._count = 0

    async def run(self) -> None:
        while True:
            stats = await get_json(self.http, self.url)
            now = time.monotonic()
            for _ in range(stats["jpeg_frames"] - self._count):
                self.arrivals.append(now)
            self._count = stats["jpeg_frames"]
            self.last = stats
            await asyncio.sleep(0.2)

    def between(self, start: float, end: float) -> list[float]:
        return [t for t in self.arrivals if start <= t <= end]


def rate_of(arrivals: list[float]) -> float:
    """Frames per second from the mean interval between arrivals."""
    assert len(arrivals) >= 3, f"too few JPEGs to measure a rate: {len(arrivals)}"
    return (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])


@pytest.mark.timeout(240)
async def test_pipeline_streams_camera_and_speech_at_the_announced_rate(edge: WranglerDev, http: aiohttp.ClientSession) -> None:
    participant = f"pipecat-{secrets.token_hex(4)}"
    sim_url = f"{edge.url}/v1/dev/simulator/{participant}"
    alerts: list[DeepfakeAlert] = []
    alert_seen = asyncio.Event()

    async def on_alert(alert: DeepfakeAlert) -> None:
        alerts.append(alert)
        alert_seen.set()
        if len(alerts) == 2:
            raise RuntimeError("a broken notification callback must not break anything")

    # heartbeat_s=3: pings every 3 s, so connects == 1 below also proves the service answers them.
    processor = DeepfakeEdgeProcessor(edge.url, admin_key=ADMIN_KEY, notification_cb=on_alert, heartbeat_s=3)
    images = camera_images()
    screen = bytes(320 * 240 * 3)
    samples = int(AUDIO_RATE * AUDIO_FRAME_S)
    silence = bytes(samples * 2)
    speaking = False
    phase_marks: dict[str, float] = {}

    async with RunningPipeline(processor) as pipeline:
        await processor.start()  # before the participant is known, as the reference bot does
        processor.set_participant_id(participant)
        ready = await processor.wait_ready(30)
        assert ready["video_fps"] == pytest.approx(0.2)
        clock = JpegClock(http, sim_url)
        poller = asyncio.create_task(clock.run())
        stop = asyncio.Event()

        async def camera() -> None:
            pacer, i = Pacer(CAMERA_FPS), 0
            while not stop.is_set():
                frame = UserImageRawFrame(user_id="u1", image=images[i % len(images)], size=(640, 480), format="RGB")
                frame.transport_source = "camera"
                await pipeline.push(frame)
                i += 1
                await pacer.tick()

        async def screen_share() -> None:
            pacer = Pacer(SCREEN_FPS)
            while not stop.is_set():
                frame = UserImageRawFrame(user_id="u1", image=screen, size=(320, 240), format="RGB")
                frame.transport_source = "screenVideo"
                await pipeline.push(frame)
                await pacer.tick()

        async def microphone() -> None:
            pacer, i = Pacer(1 / AUDIO_FRAME_S), 0
            while not stop.is_set():
                frame = InputAudioRawFrame(audio=tone(i, samples) if speaking else silence, sample_rate=AUDIO_RATE, num_channels=1)
                frame.transport_source = "microphone"
                await pipeline.push(frame)
                i += 1
                await pacer.tick()

        sources = [asyncio.create_task(f()) for f in (camera, screen_share, microphone)]
        try:
            # CLEAR: 0.2 fps, with one utterance of 7.5 s.
            t0 = phase_marks["clear"] = time.monotonic()
            await asyncio.sleep(SPEECH[0])
            await pipeline.push(UserStartedSpeakingFrame())
            speaking = True
            await asyncio.sleep(SPEECH[1] - SPEECH[0])
            speaking = False
            await pipeline.push(UserStoppedSpeakingFrame())
            await asyncio.sleep(CLEAR_PHASE_S - (time.monotonic() - t0))
            clear_end = time.monotonic()

            # SUSPICIOUS: the service announces 1 fps and the processor follows.
            alert_seen.clear()
            await post_json(http, sim_url, {"level": "suspicious"})
            await asyncio.wait_for(alert_seen.wait(), 10)
            await asyncio.wait_for(_until(lambda: processor.video_fps == 1.0), 5)
            t1 = phase_marks["suspicious"] = time.monotonic()
            await asyncio.sleep(SUSPICIOUS_PHASE_S)
            suspicious_end = time.monotonic()

            # ALERT, then CLEAR again: each steered transition reaches the callback (the second
            # callback raises, which is logged and changes nothing).
            for level in ("alert", "clear"):
                alert_seen.clear()
                await post_json(http, sim_url, {"level": level})
                await asyncio.wait_for(alert_seen.wait(), 10)
        finally:
            stop.set()
            await asyncio.gather(*sources)
        await asyncio.sleep(0.5)
        poller.cancel()
        sim = await get_json(http, sim_url)
        snapshot = await get_json(http, f"{edge.url}/v1/participants/{participant}", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        await processor.stop()
        await pipeline.finish()

    stats = processor.stats
    clear_rate = rate_of(clock.between(t0 - 1, clear_end))
    suspicious_rate = rate_of(clock.between(t1 - 0.1, suspicious_end))
    measure(f"CLEAR: {len(clock.between(t0 - 1, clear_end))} JPEGs in {CLEAR_PHASE_S:.0f} s, {clear_rate:.3f} fps (camera at {CAMERA_FPS} fps)")
    measure(f"SUSPICIOUS: {len(clock.between(t1 - 0.1, suspicious_end))} JPEGs in {SUSPICIOUS_PHASE_S:.1f} s, {suspicious_rate:.3f} fps")
    measure(f"PCM chunks: {sim['pcm_chunks']} (rejected {sim['rejected']}); last JPEG {sim['last_jpeg']}")
    measure(f"frames in {sum(pipeline.counts_in.values())} / out {sum(pipeline.sink.counts.values())}: in {dict(pipeline.counts_in)} out {dict(pipeline.sink.counts)}")
    measure(f"processor stats {stats}")
    measure(f"server counters {snapshot['counters']}")
    measure(f"alerts {[(a.previous_level, a.level, a.track_id, a.reason, a.simulated) for a in alerts]}")

    # Rates: 0.2 fps in CLEAR, 1 fps in SUSPICIOUS, with a 15 fps camera.
    assert 0.18 <= clear_rate <= 0.23
    assert 0.9 <= suspicious_rate <= 1.1
    # Nothing the processor sent was refused or skipped by the service: it honoured the rate itself.
    assert sim["rejected"] == 0, sim["last_rejection"]
    assert stats["video_frames_sent"] == sim["jpeg_frames"]
    counters = snapshot["counters"]
    assert counters["frames_received"] == counters["frames_sampled"] == sim["jpeg_frames"]
    assert counters["frames_skipped"] == 0
    # No screen frame ever left the processor (the last JPEG is a 640x480 camera frame).
    assert counters["screen_frames_dropped"] == 0
    assert stats["screen_frames_skipped"] == pipeline.counts_in["UserImageRawFrame"] - stats["video_frames_seen"] > 0
    assert (sim["last_jpeg"]["width"], sim["last_jpeg"]["height"]) == (640, 480)
    # 7.5 s of 48 kHz speech: two full 3 s chunks and a padded 1.5 s one, each exactly 96 000 bytes
    # (the simulator rejects any other size); with speaking frames, audio outside speech was not sent.
    assert sim["pcm_chunks"] == 3
    assert stats["audio_frames_outside_speech"] > 0
    # client_vad="auto" (the default): until the first speaking frame (2 s in) all audio went and the
    # service's gate decided; from then on the speaking frames gated it. The 20 ms frames went out
    # joined, 100 ms to a message, plus a partial batch before each Speaking; the service counted all.
    assert stats["vad"] == "pipeline"
    assert 0.95 * (2 + 7.5) / 0.1 <= stats["audio_frames_sent"] <= 1.05 * (2 + 7.5) / 0.1 + 3
    assert counters["audio_frames_received"] == stats["audio_frames_sent"]
    assert stats["speaking_sent"] == 2
    # Each steered transition reached notification_cb as a typed DeepfakeAlert.
    assert [(a.previous_level, a.level) for a in alerts] == [("clear", "suspicious"), ("suspicious", "alert"), ("alert", "clear")]
    for a in alerts:
        assert a.type == "deepfake_alert" and a.id.startswith("evt_") and a.participant_id == participant
        assert a.track_id == "camera" and a.timestamp_ms > 0 and a.reason in ("result", "track_expired", "track_closed")
    assert stats["callback_errors"] == 1
    # Every input frame came out downstream, the same object, and the socket never had to drop.
    assert pipeline.sink.counts == pipeline.counts_in
    assert pipeline.sink.changed == 0
    assert stats["dropped_buffer_full"] == 0
    assert stats["connects"] == 1 and stats["reconnects"] == 0


async def _until(predicate: Any, interval: float = 0.05) -> None:
    while not predicate():
        await asyncio.sleep(interval)


@pytest.mark.timeout(60)
async def test_a_refused_token_is_reported_and_not_retried(edge: WranglerDev) -> None:
    processor = DeepfakeEdgeProcessor(edge.url, token="not-a-valid-token", participant_id="pipecat-refused")
    async with RunningPipeline(processor) as pipeline:
        await processor.start()
        with pytest.raises(Exception) as info:
            await processor.wait_ready(15)
        assert type(info.value).__name__ == "DeepfakeEdgeAuthError"
        assert info.value.status in (401, 403)
        assert processor.state == "auth_failed" and processor.auth_error is info.value
        # The pipeline keeps flowing, and no retry happens.
        for _ in range(20):
            frame = UserImageRawFrame(user_id="u1", image=bytes(64 * 48 * 3), size=(64, 48), format="RGB")
            frame.transport_source = "camera"
            await pipeline.push(frame)
        await asyncio.sleep(2.5)
        stats = processor.stats
        await processor.stop()
        await pipeline.finish()
    assert stats["reconnects"] == 0 and stats["connects"] == 0
    assert pipeline.sink.counts == pipeline.counts_in
