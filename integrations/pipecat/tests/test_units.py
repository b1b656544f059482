"""Fast tests of the processor's parts, and of its wire behaviour against a small local WebSocket server."""

from __future__ import annotations

import asyncio
import json
import py_compile
from pathlib import Path

import aiohttp
import pytest
from loguru import logger
from aiohttp import web
from pipecat.frames.frames import InputAudioRawFrame, UserImageRawFrame, UserStartedSpeakingFrame, UserStoppedSpeakingFrame

from deepfake_edge_pipecat import DeepfakeAlert, DeepfakeEdgeAuthError, DeepfakeEdgeProcessor
from deepfake_edge_pipecat._proto import ingest_pb2 as pb
from deepfake_edge_pipecat.audio_batch import AudioBatcher, AudioStream
from deepfake_edge_pipecat.processor import _downscale, clean_participant_id, is_camera_source
from deepfake_edge_pipecat.rate_gate import RateGate
from deepfake_edge_pipecat.send_buffer import Outgoing, SendBuffer

from .conftest import REPO_ROOT, RunningPipeline


def offered(gate: RateGate, fps_camera: float, seconds: float, jitter: float = 0.0) -> list[float]:
    taken, i = [], 0
    while i / fps_camera <= seconds:
        t = i / fps_camera + (jitter if i % 2 else -jitter)
        if gate.take("camera", t):
            taken.append(t)
        i += 1
    return taken


def test_rate_gate_keeps_a_deadline_schedule() -> None:
    gate = RateGate()
    assert offered(gate, 15, 10) == []  # nothing before the service announced a rate
    gate = RateGate()
    gate.set_fps(0.2)
    taken = offered(gate, 15, 60)
    assert len(taken) == 13  # t = 0, 5, ..., 60: a 15 fps camera becomes 0.2 fps
    # Frames may be taken up to 5 % of a period early, but the schedule holds: no drift, no burst.
    assert all(abs((b - a) - 5.0) <= 0.25 + 1 / 15 for a, b in zip(taken, taken[1:]))
    assert (taken[-1] - taken[0]) / (len(taken) - 1) == pytest.approx(5.0, abs=0.02)
    # A source at exactly the announced rate with jitter keeps every frame.
    gate = RateGate()
    gate.set_fps(1.0)
    assert len(offered(gate, 1.0, 20, jitter=0.02)) == 21
    # 0 stops video.
    gate.set_fps(0)
    assert not gate.take("camera", 100.0)


def test_rate_gate_moves_to_a_new_rate_from_the_last_taken_frame() -> None:
    gate = RateGate()
    gate.set_fps(0.2)
    assert gate.take("camera", 0.0)
    assert not gate.take("camera", 0.5)
    gate.set_fps(1.0)
    assert not gate.take("camera", 0.9)
    assert gate.take("camera", 1.0)
    assert gate.take("screen-or-other", 1.0)  # another track has its own schedule


def test_send_buffer_drops_the_oldest_media_and_never_control() -> None:
    buf = SendBuffer(max_items=3, max_bytes=1000)
    assert buf.put(Outgoing("control", b"s", 1)) == 0
    assert buf.put(Outgoing("video", "v1", 100)) == 0
    assert buf.put(Outgoing("audio", "a1", 100)) == 0
    assert buf.put(Outgoing("audio", "a2", 100)) == 1  # v1 goes
    assert buf.put(Outgoing("video", "big", 950)) == 2  # a1 and a2 go
    assert [i.payload for i in buf._items] == [b"s", "big"]
    assert buf.dropped == 3
    assert buf.clear() == 1 and len(buf) == 0


def test_deepfake_alert_from_todays_payload_defaults_reason_and_simulated() -> None:
    event = {
        "type": "deepfake_alert", "id": "evt_1", "level": "alert", "previous_level": "suspicious",
        "participant_id": "alice", "track_id": "camera", "message": "m", "timestamp_ms": 1730123456789,
    }
    alert = DeepfakeAlert.from_event(event)
    assert (alert.reason, alert.simulated) == ("result", False)
    assert DeepfakeAlert.from_event({**event, "reason": "track_expired", "simulated": True}).simulated is True
    line = json.loads(alert.log_line())
    assert list(line) == ["type", "level", "participant_id", "track_id", "message", "timestamp_ms"]
    with pytest.raises(ValueError):
        DeepfakeAlert.from_event({**event, "level": "purple"})


def test_participant_ids_and_sources() -> None:
    assert clean_participant_id("SmallWebRTCConnection#0-abc123") == "SmallWebRTCConnection_0-abc123"
    assert clean_participant_id("alice") == "alice"
    assert len(clean_participant_id("x" * 300)) == 128
    assert is_camera_source("camera") and is_camera_source(None)
    assert not is_camera_source("screenVideo") and not is_camera_source("screen")


def test_downscale_fits_a_720p_frame_into_one_message() -> None:
    data = bytes(1280 * 720 * 3)
    small, w, h = _downscale(data, 1280, 720, 3, 1_000_000)
    assert (w, h) == (640, 360) and len(small) == w * h * 3


def test_the_example_bot_compiles() -> None:
    py_compile.compile(str(REPO_ROOT / "examples" / "pipecat" / "bot.py"), doraise=True)


async def test_frames_pass_through_a_processor_that_was_never_started() -> None:
    processor = DeepfakeEdgeProcessor("http://127.0.0.1:9")
    async with RunningPipeline(processor) as pipeline:
        for _ in range(30):
            frame = UserImageRawFrame(user_id="u", image=bytes(4 * 4 * 3), size=(4, 4), format="RGB")
            frame.transport_source = "camera"
            await pipeline.push(frame)
            await pipeline.push(InputAudioRawFrame(audio=bytes(1920), sample_rate=48000, num_channels=1))
        await pipeline.finish()
    assert pipeline.sink.counts == pipeline.counts_in and pipeline.sink.changed == 0
    assert processor.stats["dropped_disconnected"] == 30


class FakeService:
    """A local stand-in for the service's stream endpoint and token route, recording what it got."""

    def __init__(self, refuse: int | None = None, alerts: list[dict] | None = None) -> None:
        self.refuse = refuse
        self.alerts = alerts or []
        self.messages: list[pb.ClientMessage] = []
        self.auth_headers: list[str | None] = []
        self.token_requests: list[dict] = []
        self.got = asyncio.Event()
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> "FakeService":
        app = web.Application()
        app.router.add_get("/v1/participants/{id}/stream", self.stream)
        app.router.add_post("/v1/tokens", self.tokens)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def tokens(self, request: web.Request) -> web.Response:
        assert request.headers.get("Authorization") == "Bearer adm"
        self.token_requests.append(await request.json())
        return web.json_response({"token": "minted-token", "expires_at": 4102444800})

    async def stream(self, request: web.Request) -> web.StreamResponse:
        self.auth_headers.append(request.headers.get("Authorization"))
        if self.refuse:
            return web.Response(status=self.refuse, text="no")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        pid = request.match_info["id"]
        await ws.send_str(json.dumps({"type": "ready", "participant_id": pid, "level": "clear", "video_fps": 1, "simulated": True}))
        for alert in self.alerts:
            await ws.send_str(json.dumps(alert))
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.BINARY:
                self.messages.append(pb.ClientMessage.FromString(msg.data))
                self.got.set()
        return ws


async def test_hello_speaking_audio_and_video_on_the_wire() -> None:
    async with FakeService() as service:
        processor = DeepfakeEdgeProcessor(service.url, admin_key="adm", participant_id="bob#1")
        async with RunningPipeline(processor) as pipeline:
            await processor.start()
            await processor.wait_ready(5)
            await pipeline.push(InputAudioRawFrame(audio=bytes(1920), sample_rate=48000, num_channels=1))  # outside speech
            await pipeline.push(UserStartedSpeakingFrame())
            await pipeline.push(InputAudioRawFrame(audio=bytes(640), sample_rate=16000, num_channels=2))
            frame = UserImageRawFrame(user_id="u", image=bytes(8 * 6 * 4), size=(8, 6), format="RGBA")
            frame.transport_source = "camera"
            await pipeline.push(frame)
            screen = UserImageRawFrame(user_id="u", image=bytes(8 * 6 * 3), size=(8, 6), format="RGB")
            screen.transport_source = "screenVideo"
            await pipeline.push(screen)
            await pipeline.push(UserStoppedSpeakingFrame())
            for _ in range(100):
                if len(service.messages) >= 5:
                    break
                await asyncio.sleep(0.02)
            await processor.stop()
            await pipeline.finish()
    kinds = [m.WhichOneof("payload") for m in service.messages]
    # The 10 ms of audio waits for its 100 ms batch, which the end of speech sends before the marker.
    assert kinds == ["hello", "speaking", "video", "audio", "speaking"]
    hello = service.messages[0].hello
    assert hello.vad is True and hello.honors_rate is True and hello.client.startswith("deepfake-edge-pipecat/")
    audio = service.messages[3].audio
    assert (audio.sample_rate, audio.channels, len(audio.data), audio.track_id) == (16000, 2, 640, "microphone")
    video = service.messages[2].video
    assert (video.width, video.height, video.format, video.source, video.track_id) == (8, 6, pb.RGBA, pb.CAMERA, "camera")
    assert service.token_requests == [{"participant_id": "bob_1", "ttl_s": 3600}]
    assert service.auth_headers == ["Bearer minted-token"]
    assert pipeline.sink.counts == pipeline.counts_in


async def test_client_vad_false_sends_all_audio_and_no_speaking() -> None:
    async with FakeService() as service:
        processor = DeepfakeEdgeProcessor(service.url, participant_id="carol", client_vad=False)
        async with RunningPipeline(processor) as pipeline:
            await processor.start()
            await processor.wait_ready(5)
            await pipeline.push(InputAudioRawFrame(audio=bytes(1920), sample_rate=48000, num_channels=1))
            await pipeline.push(UserStartedSpeakingFrame())
            await pipeline.push(InputAudioRawFrame(audio=bytes(1920), sample_rate=48000, num_channels=1))
            for _ in range(100):
                if len(service.messages) >= 3:
                    break
                await asyncio.sleep(0.02)
            await processor.stop()
            await pipeline.finish()
    assert [m.WhichOneof("payload") for m in service.messages] == ["hello", "audio", "audio"]
    assert service.messages[0].hello.vad is False
    assert service.auth_headers == [None]  # no token, no admin key: development mode


def test_audio_batcher_joins_frames_of_one_stream_up_to_the_batch_and_never_past_1_s() -> None:
    mic = AudioStream("microphone", 16000, 1)
    b = AudioBatcher(100)
    frames = [bytes([k]) * 640 for k in range(5)]  # 20 ms each
    out = [batch for k, f in enumerate(frames) for batch in b.push(mic, 1000 + 20 * k, f)]
    assert [(x.timestamp_ms, x.data) for x in out] == [(1000, b"".join(frames))]
    assert b.push(mic, 0, bytes(640)) == [] and b.pending_ms == 20
    other = AudioStream("microphone", 48000, 1)
    assert [x.stream for x in b.push(other, 0, bytes(1920))] == [mic]  # a new rate sends the old batch
    assert b.discard() == 1 and b.flush() == []
    long = AudioBatcher(1000)
    out = long.push(mic, 0, bytes(19200)) + long.push(mic, 0, bytes(19200)) + long.flush()  # 600 ms twice
    assert [len(x.data) for x in out] == [19200, 19200]
    assert AudioBatcher(0).push(mic, 0, bytes(640))[0].data == bytes(640)
    with pytest.raises(ValueError):
        AudioBatcher(1001)


@pytest.mark.parametrize("batch_ms, messages", [(100, 10), (0, 50)])
async def test_a_second_of_20_ms_frames_goes_out_in_100_ms_messages(batch_ms: int, messages: int) -> None:
    async with FakeService() as service:
        processor = DeepfakeEdgeProcessor(service.url, participant_id="dave", client_vad=False, audio_batch_ms=batch_ms)
        frames = [bytes([k]) * 1920 for k in range(50)]  # 20 ms at 48 kHz mono
        async with RunningPipeline(processor) as pipeline:
            await processor.start()
            await processor.wait_ready(5)
            for f in frames:  # paced, so that the send buffer (32 items) never has to drop
                await pipeline.push(InputAudioRawFrame(audio=f, sample_rate=48000, num_channels=1))
                await asyncio.sleep(0.005)
            for _ in range(100):
                if len(service.messages) >= 1 + messages:
                    break
                await asyncio.sleep(0.02)
            await processor.stop()
            await pipeline.finish()
    audio = [m.audio for m in service.messages if m.WhichOneof("payload") == "audio"]
    assert len(audio) == messages
    assert b"".join(a.data for a in audio) == b"".join(frames)
    assert processor.stats["audio_frames_seen"] == 50 and processor.stats["audio_frames_sent"] == messages


@pytest.mark.parametrize("status", [401, 403])
async def test_a_refused_upgrade_is_an_auth_error(status: int) -> None:
    async with FakeService(refuse=status) as service:
        processor = DeepfakeEdgeProcessor(service.url, token="t", participant_id="dave")
        await processor.start()
        with pytest.raises(DeepfakeEdgeAuthError) as info:
            await processor.wait_ready(5)
        await asyncio.sleep(1.5)  # no retry happens
        await processor.stop()
    assert info.value.status == status and processor.state == "auth_failed"
    assert service.auth_headers == ["Bearer t"]


async def test_stop_never_closes_the_callers_session() -> None:
    async with FakeService() as service, aiohttp.ClientSession() as session:
        processor = DeepfakeEdgeProcessor(service.url, participant_id="erin", session=session)
        await processor.start()
        await processor.wait_ready(5)
        await processor.stop()
        assert not session.closed and processor.state == "stopped"
        await processor.start()  # and it can start again
        await processor.wait_ready(5)
        await processor.stop()
        assert not session.closed


ALERT_EVENT = {
    "type": "deepfake_alert", "id": "evt_a", "level": "suspicious", "previous_level": "clear",
    "participant_id": "fay", "track_id": "camera", "message": "SIMULATED result: suspicious", "timestamp_ms": 1,
}


async def test_without_a_callback_the_reference_json_line_is_logged() -> None:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="WARNING", format="{message}")
    try:
        async with FakeService(alerts=[ALERT_EVENT]) as service:
            processor = DeepfakeEdgeProcessor(service.url, participant_id="fay")
            await processor.start()
            for _ in range(100):
                if any("received notification" in line for line in lines):
                    break
                await asyncio.sleep(0.02)
            await processor.stop()
    finally:
        logger.remove(sink)
    line = next(line for line in lines if "received notification" in line)
    data = json.loads(line.split("received notification: ", 1)[1])
    assert data["type"] == "deepfake_alert" and data["level"] == "suspicious" and data["track_id"] == "camera"


async def test_a_plain_function_works_as_callback_too() -> None:
    got: list[DeepfakeAlert] = []
    async with FakeService(alerts=[ALERT_EVENT, {**ALERT_EVENT, "id": "evt_b", "level": "alert", "previous_level": "suspicious"}]) as service:
        processor = DeepfakeEdgeProcessor(service.url, participant_id="fay", notification_cb=got.append)
        await processor.start()
        for _ in range(100):
            if len(got) == 2:
                break
            await asyncio.sleep(0.02)
        await processor.stop()
    assert [a.id for a in got] == ["evt_a", "evt_b"] and processor.stats["callback_errors"] == 0
