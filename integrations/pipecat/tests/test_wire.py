"""The processor's wire behaviour against a small local stand-in for the service (fast, no wrangler):
what it sends, and what it does with each event the service sends, including malformed ones."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from loguru import logger
from PIL import Image
from pipecat.frames.frames import InputAudioRawFrame, UserImageRawFrame, UserStartedSpeakingFrame, UserStoppedSpeakingFrame

from deepfake_edge_pipecat import DeepfakeAlert, DeepfakeEdgeAuthError, DeepfakeEdgeProcessor
from deepfake_edge_pipecat._proto import ingest_pb2 as pb
from deepfake_edge_pipecat.compat import DataspikeDeepfakeProcessor, EventType

from .conftest import RunningPipeline


class FakeService:
    """A local stand-in for the service's stream endpoint and token route, recording what it got."""

    def __init__(self, refuse: int | None = None, alerts: list[dict] | None = None, ready: dict | None = None,
                 refuse_query: bool = False) -> None:
        self.refuse = refuse
        self.refuse_query = refuse_query
        self.alerts = alerts or []
        self.ready = ready or {}
        self.messages: list[pb.ClientMessage] = []
        self.auth_headers: list[str | None] = []
        self.queries: list[dict[str, str]] = []
        self.token_requests: list[dict] = []
        self.sockets: list[web.WebSocketResponse] = []
        self.got = asyncio.Event()
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def send(self, event: Any) -> None:
        await self.sockets[-1].send_str(event if isinstance(event, str) else json.dumps(event))

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
        return web.json_response({"token": "minted-token", "expires_at": 4102444800, "scope": "stream"})

    async def stream(self, request: web.Request) -> web.StreamResponse:
        self.auth_headers.append(request.headers.get("Authorization"))
        self.queries.append(dict(request.query))
        if self.refuse_query and request.query:
            return web.Response(status=400, text="bad_rate")
        if self.refuse:
            return web.Response(status=self.refuse, text="no")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        pid = request.match_info["id"]
        self.sockets.append(ws)
        ready = {"type": "ready", "participant_id": pid, "level": "clear", "video_fps": 1, "simulated": True, **self.ready}
        await ws.send_str(json.dumps(ready))
        for alert in self.alerts:
            await ws.send_str(json.dumps(alert))
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.BINARY:
                self.messages.append(pb.ClientMessage.FromString(msg.data))
                self.got.set()
        return ws


async def test_hello_speaking_audio_and_video_on_the_wire() -> None:
    async with FakeService(ready={"jpeg_quality": 60}) as service:
        processor = DeepfakeEdgeProcessor(service.url, admin_key="adm", participant_id="bob#1", client_vad=True)
        async with RunningPipeline(processor) as pipeline:
            await processor.start()
            await processor.wait_ready(5)
            await pipeline.push(InputAudioRawFrame(audio=bytes(1920), sample_rate=48000, num_channels=1))  # outside speech
            await pipeline.push(UserStartedSpeakingFrame())
            await pipeline.push(InputAudioRawFrame(audio=bytes(640), sample_rate=16000, num_channels=2))
            image = bytes(range(256)) * (64 * 48 * 4 // 256)
            frame = UserImageRawFrame(user_id="u", image=image, size=(64, 48), format="RGBA")
            frame.transport_source = "camera"
            await pipeline.push(frame)
            screen = UserImageRawFrame(user_id="u", image=bytes(8 * 6 * 3), size=(8, 6), format="RGB")
            screen.transport_source = "screenVideo"
            await pipeline.push(screen)
            await pipeline.push(UserStoppedSpeakingFrame())
            await _until(lambda: len(service.messages) >= 5)
            await processor.stop()
            await pipeline.finish()
    kinds = [m.WhichOneof("payload") for m in service.messages]
    # The 10 ms of audio waits for its 100 ms batch, which the end of speech sends before the marker.
    assert kinds == ["hello", "speaking", "video", "audio", "speaking"]
    hello = service.messages[0].hello
    assert hello.vad is True and hello.honors_rate is True and hello.client.startswith("deepfake-edge-pipecat/")
    audio = service.messages[3].audio
    assert (audio.sample_rate, audio.channels, len(audio.data), audio.track_id) == (16000, 2, 640, "microphone")
    # The RGBA frame went as a JPEG the processor encoded at the quality the service announced (60).
    video = service.messages[2].video
    assert (video.width, video.height, video.format, video.source, video.track_id) == (64, 48, pb.JPEG, pb.CAMERA, "camera")
    decoded = Image.open(io.BytesIO(video.data))
    assert decoded.size == (64, 48) and decoded.format == "JPEG"
    reference = io.BytesIO()
    Image.frombuffer("RGBA", (64, 48), image, "raw", "RGBA", 0, 1).convert("RGB").save(reference, "JPEG", quality=60)
    assert decoded.quantization == Image.open(reference).quantization
    # A minted token opens client sockets only (scope stream), for the encoded id.
    assert service.token_requests == [{"participant_id": "bob_231", "ttl_s": 3600, "scope": "stream"}]
    assert service.auth_headers == ["Bearer minted-token"]
    assert pipeline.sink.counts == pipeline.counts_in


async def test_raw_frames_stay_an_option() -> None:
    async with FakeService() as service:
        processor = DeepfakeEdgeProcessor(service.url, participant_id="raw", video_encoding="raw")
        async with RunningPipeline(processor) as pipeline:
            await processor.start()
            await processor.wait_ready(5)
            frame = UserImageRawFrame(user_id="u", image=bytes(8 * 6 * 3), size=(8, 6), format="RGB")
            frame.transport_source = "camera"
            await pipeline.push(frame)
            await _until(lambda: len(service.messages) >= 2)
            await processor.stop()
            await pipeline.finish()
    video = service.messages[1].video
    assert (video.format, len(video.data)) == (pb.RGB24, 8 * 6 * 3)
    with pytest.raises(ValueError):
        DeepfakeEdgeProcessor(service.url, video_encoding="png")


async def test_client_vad_false_sends_all_audio_and_no_speaking() -> None:
    async with FakeService() as service:
        processor = DeepfakeEdgeProcessor(service.url, participant_id="carol", client_vad=False)
        async with RunningPipeline(processor) as pipeline:
            await processor.start()
            await processor.wait_ready(5)
            await pipeline.push(InputAudioRawFrame(audio=bytes(1920), sample_rate=48000, num_channels=1))
            await pipeline.push(UserStartedSpeakingFrame())
            await pipeline.push(InputAudioRawFrame(audio=bytes(1920), sample_rate=48000, num_channels=1))
            await _until(lambda: len(service.messages) >= 2)
            await asyncio.sleep(0.2)
            await processor.stop()
            await pipeline.finish()
    # Both 10 ms frames went, joined in one 100 ms batch; the speaking frame sent nothing.
    assert [m.WhichOneof("payload") for m in service.messages] == ["hello", "audio"]
    assert len(service.messages[1].audio.data) == 2 * 1920
    assert service.messages[0].hello.vad is False
    assert service.auth_headers == [None]  # no token, no admin key: development mode


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


async def _until(predicate: Any, timeout: float = 2.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate() and loop.time() < deadline:
        await asyncio.sleep(0.02)


def _audio(ms: int = 20) -> InputAudioRawFrame:
    return InputAudioRawFrame(audio=bytes(96 * ms), sample_rate=48000, num_channels=1)


async def test_malformed_events_are_counted_and_logged_and_the_receive_loop_goes_on() -> None:
    got: list[DeepfakeAlert] = []
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="WARNING", format="{message}")
    try:
        async with FakeService() as service:
            processor = DeepfakeEdgeProcessor(service.url, participant_id="gil", notification_cb=got.append)
            await processor.start()
            await processor.wait_ready(5)
            fps = processor.video_fps
            for bad in ('{"type": "rate"}', '{"type": "rate", "video_fps": null}', "not json", '{"type": "ready", "level": 7}',
                        '{"type": "audio", "wanted": "maybe"}', '{"type": "deepfake_alert", "level": "alert"}'):
                await service.send(bad)
            await service.sockets[-1].send_bytes(b"binary")
            await service.send({**ALERT_EVENT, "participant_id": "gil"})
            await _until(lambda: len(got) == 1)
            stats = processor.stats
            await processor.stop()
    finally:
        logger.remove(sink)
    assert stats["bad_events"] == 7 and stats["connects"] == 1 and stats["reconnects"] == 0
    assert processor.video_fps == fps == 1.0  # a rate without video_fps changed nothing
    assert [a.id for a in got] == ["evt_a"]  # the loop went on: the valid event after them arrived
    assert any("malformed event" in line and "video_fps" in line for line in lines)


async def test_client_vad_auto_sends_audio_until_speaking_frames_appear_then_they_gate_it() -> None:
    async with FakeService() as service:
        processor = DeepfakeEdgeProcessor(service.url, participant_id="hal")
        async with RunningPipeline(processor) as pipeline:
            await processor.start()
            await processor.wait_ready(5)
            assert processor.stats["vad"] == "service"
            for _ in range(5):
                await pipeline.push(_audio())  # 100 ms: one message, the service's voice gate decides
            await _until(lambda: len(service.messages) >= 2)
            await pipeline.push(UserStartedSpeakingFrame())
            for _ in range(5):
                await pipeline.push(_audio())
            await pipeline.push(UserStoppedSpeakingFrame())
            for _ in range(10):
                await pipeline.push(_audio())  # outside speech: not sent any more
            await _until(lambda: len(service.messages) >= 5)
            await asyncio.sleep(0.3)
            stats = processor.stats
            await processor.stop()
            await pipeline.finish()
    kinds = [m.WhichOneof("payload") for m in service.messages]
    assert kinds == ["hello", "audio", "speaking", "audio", "speaking"]
    assert service.messages[0].hello.vad is False
    assert stats["vad"] == "pipeline" and stats["audio_frames_outside_speech"] == 10 and stats["audio_frames_sent"] == 2


async def test_no_audio_while_the_service_does_not_want_speech() -> None:
    async with FakeService() as service:
        processor = DeepfakeEdgeProcessor(service.url, participant_id="ida", client_vad=False, audio_batch_ms=0)
        async with RunningPipeline(processor) as pipeline:
            await processor.start()
            await processor.wait_ready(5)
            await service.send({"type": "audio", "wanted": False, "until_ms": 1, "resume_in_ms": 60_000})
            await _until(lambda: processor.stats["audio_hints"] == 1)
            for _ in range(20):
                await pipeline.push(_audio())
            await asyncio.sleep(0.2)
            paused = processor.stats
            await service.send({"type": "audio", "wanted": True, "until_ms": 0, "resume_in_ms": 0})
            await _until(lambda: processor.stats["audio_hints"] == 2)
            for _ in range(3):
                await pipeline.push(_audio())
            await _until(lambda: len(service.messages) >= 4)
            await processor.stop()
            await pipeline.finish()
    assert paused["audio_frames_not_wanted"] == 20 and paused["audio_frames_sent"] == 0 and not paused["audio_wanted"]
    assert [m.WhichOneof("payload") for m in service.messages] == ["hello", "audio", "audio", "audio"]


async def test_lower_rates_go_in_the_url_and_refused_ones_are_dropped_once() -> None:
    async with FakeService(refuse_query=True, ready={"normal_fps": 1, "burst_fps": 1}) as service:
        processor = DeepfakeEdgeProcessor(service.url, participant_id="jo", normal_fps=0.5, burst_fps=2)
        await processor.start()
        await processor.wait_ready(5)
        fps = processor.video_fps
        await processor.stop()
    # Refused (400): connected again at once without them, and kept the lower one itself.
    assert service.queries == [{"normal_fps": "0.5", "burst_fps": "2"}, {}]
    assert fps == 0.5 and processor.stats["reconnects"] == 0


async def test_compat_calls_back_as_the_reference_did_with_the_ids_the_bot_set() -> None:
    pc_id = "SmallWebRTCConnection#0-1f2e"
    encoded = "SmallWebRTCConnection_230-1f2e"
    steps = [("clear", "suspicious"), ("suspicious", "alert"), ("alert", "suspicious"), ("suspicious", "alert"), ("alert", "clear")]
    events = [{**ALERT_EVENT, "id": f"evt_{i}", "previous_level": a, "level": b, "participant_id": encoded} for i, (a, b) in enumerate(steps)]
    got: list[Any] = []
    states: list[Any] = []

    async def on_deepfake_alert(event: Any) -> None:
        got.append(event)

    async with FakeService(alerts=events) as service:
        processor = DataspikeDeepfakeProcessor(session=None, notification_cb=on_deepfake_alert, base_url=service.url)
        await processor.start()
        processor.set_participant_id(pc_id)
        await _until(lambda: len(got) == 3)
        states.append(processor.state)
        stats = processor.stats
        await processor.stop()
    assert [e.type for e in got] == [EventType.ALERT, EventType.ALERT, EventType.CLEAR]
    assert {e.participant_id for e in got} == {pc_id} and stats["participant_id"] == pc_id
    assert got[0].alert.id == "evt_1" and got[0].track_id == "camera"
    assert states == [EventType.CLEAR] and service.queries[0] == {"normal_fps": "0.2", "burst_fps": "1"}


async def test_a_longer_pause_of_the_bots_own_is_kept_but_a_check_still_gets_speech() -> None:
    async with FakeService() as service:
        processor = DeepfakeEdgeProcessor(service.url, participant_id="kim", client_vad=False, audio_interval_s=120)
        async with RunningPipeline(processor) as pipeline:
            await processor.start()
            await processor.wait_ready(5)
            # The service's pause (0.2 s) ends, but the bot asked for 120 s between chunks: no audio.
            await service.send({"type": "audio", "wanted": False, "until_ms": 1, "resume_in_ms": 200})
            await asyncio.sleep(0.4)
            await service.send({"type": "audio", "wanted": True, "until_ms": 0, "resume_in_ms": 0})
            await _until(lambda: processor.stats["audio_hints"] == 2)
            await pipeline.push(_audio(100))
            await asyncio.sleep(0.2)
            held = processor.stats["audio_frames_not_wanted"]
            # A new pause of 60 s, and `wanted` long before it ends: an on-demand check wants speech now.
            await service.send({"type": "audio", "wanted": False, "until_ms": 1, "resume_in_ms": 60_000})
            await service.send({"type": "audio", "wanted": True, "until_ms": 0, "resume_in_ms": 0})
            await _until(lambda: processor.stats["audio_hints"] == 4)
            await pipeline.push(_audio(100))
            await _until(lambda: len(service.messages) >= 2)
            await processor.stop()
            await pipeline.finish()
    assert held == 1
    assert [m.WhichOneof("payload") for m in service.messages] == ["hello", "audio"]
