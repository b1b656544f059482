"""Bytes per minute on a bot's socket, in CLEAR and in SUSPICIOUS, with the processor's defaults.

Two participants stream at once, each through its own pipeline: a 640x480 camera at 15 fps and a
16 kHz microphone on which the participant speaks the whole time (a 220 Hz tone at -15 dBFS).
"vad" has a VAD in its pipeline (speaking frames around the speech); "plain" is
[transport.input(), processor, transport.output()] with no speaking frames. Each phase lasts PHASE_S
(60 s by default, the default audio interval); the simulator is steered to SUSPICIOUS between them.

    python scripts/measure_bandwidth.py --url http://127.0.0.1:8787 [--phase-s 60]

It imports `deepfake_edge_pipecat` from sys.path, so an older version can be measured by putting its
package directory first on PYTHONPATH. The service must be in development mode without secrets.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import secrets
import struct
import sys
import time
from pathlib import Path

import aiohttp
import numpy as np

sys.path.append(str(Path(__file__).resolve().parents[1]))
from tests.conftest import Pacer, RunningPipeline  # noqa: E402

from deepfake_edge_pipecat import DeepfakeEdgeProcessor  # noqa: E402
from pipecat.frames.frames import InputAudioRawFrame, UserImageRawFrame, UserStartedSpeakingFrame  # noqa: E402


def camera_image() -> bytes:
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:480, 0:640].astype(np.float32)
    base = np.stack([128 + 80 * np.sin(x / 57 + k) * np.cos(y / 43 - k) for k in range(3)], axis=-1)
    return np.clip(base + rng.normal(0, 6, size=base.shape), 0, 255).astype(np.uint8).tobytes()


def tone_frames(rate: int = 16_000, frame_s: float = 0.02) -> list[bytes]:
    n = int(rate * frame_s)
    return [
        struct.pack(f"<{n}h", *(int(8000 * math.sin(2 * math.pi * 220 * (k * n + i) / rate)) for i in range(n)))
        for k in range(50)
    ]


async def participant(url: str, name: str, with_vad: bool, phase_s: float, marks: dict) -> dict:
    pid = f"bw-{name}-{secrets.token_hex(3)}"
    processor = DeepfakeEdgeProcessor(url, participant_id=pid)
    image, tones = camera_image(), tone_frames()
    out: dict = {"participant": pid}
    async with RunningPipeline(processor) as pipeline, aiohttp.ClientSession() as http:
        await processor.start()
        await processor.wait_ready(30)
        stop = asyncio.Event()

        async def camera() -> None:
            pacer = Pacer(15)
            while not stop.is_set():
                frame = UserImageRawFrame(user_id="u", image=image, size=(640, 480), format="RGB")
                frame.transport_source = "camera"
                await pipeline.push(frame)
                await pacer.tick()

        async def microphone() -> None:
            pacer, i = Pacer(50), 0
            if with_vad:
                await pipeline.push(UserStartedSpeakingFrame())
            while not stop.is_set():
                await pipeline.push(InputAudioRawFrame(audio=tones[i % len(tones)], sample_rate=16_000, num_channels=1))
                i += 1
                await pacer.tick()

        tasks = [asyncio.create_task(camera()), asyncio.create_task(microphone())]
        start = processor.stats
        await asyncio.sleep(phase_s)
        clear = processor.stats
        async with http.post(f"{url}/v1/dev/simulator/{pid}", data=json.dumps({"level": "suspicious"})) as res:
            assert res.status == 200, await res.text()
        while processor.video_fps != 1.0:
            await asyncio.sleep(0.05)
        suspicious_start = processor.stats
        await asyncio.sleep(phase_s)
        suspicious = processor.stats
        stop.set()
        await asyncio.gather(*tasks)
        await processor.stop()
        await pipeline.finish()
    per_min = 60 / phase_s
    for phase, (a, b) in {"clear": (start, clear), "suspicious": (suspicious_start, suspicious)}.items():
        out[phase] = {
            "bytes_per_min": round((b["bytes_sent"] - a["bytes_sent"]) * per_min),
            "video_frames_per_min": round((b["video_frames_sent"] - a["video_frames_sent"]) * per_min, 1),
            "audio_messages_per_min": round((b["audio_frames_sent"] - a["audio_frames_sent"]) * per_min, 1),
        }
    return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--phase-s", type=float, default=60.0)
    args = parser.parse_args()
    marks: dict = {}
    started = time.monotonic()
    results = await asyncio.gather(
        participant(args.url, "vad", True, args.phase_s, marks),
        participant(args.url, "plain", False, args.phase_s, marks),
    )
    print(json.dumps({"version": getattr(sys.modules["deepfake_edge_pipecat"], "__version__", "?"),
                      "took_s": round(time.monotonic() - started), "vad": results[0], "plain": results[1]}, indent=1))


if __name__ == "__main__":
    asyncio.run(main())
