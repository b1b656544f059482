"""Fast tests of the processor's parts (its wire behaviour is in test_wire.py)."""

from __future__ import annotations

import ast
import importlib
import json
import py_compile

import pytest
from pipecat.frames.frames import InputAudioRawFrame, UserImageRawFrame

from deepfake_edge_pipecat import DeepfakeAlert, DeepfakeEdgeProcessor
from deepfake_edge_pipecat.audio_batch import AudioBatcher, AudioStream
from deepfake_edge_pipecat.compat import AudioParams, DataspikeDeepfakeProcessor, EventType, VideoParams
from deepfake_edge_pipecat.events import AudioHint, BadEvent, CheckCompleted, CheckStarted, Rate, Ready, parse_event
from deepfake_edge_pipecat.frames import SpeechGate, downscale, is_camera_source
from deepfake_edge_pipecat.participant import PARTICIPANT_ID_RE, encode_participant_id
from deepfake_edge_pipecat.rate_gate import RateGate
from deepfake_edge_pipecat.send_buffer import Outgoing, SendBuffer
from deepfake_edge_pipecat.tuning import Tuning

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


def test_participant_ids_the_service_cannot_take_are_encoded_without_collisions() -> None:
    pc_id = "SmallWebRTCConnection#0-abc123"
    assert encode_participant_id(pc_id) == "SmallWebRTCConnection_230-abc123"
    assert encode_participant_id("SmallWebRTCConnection$0-abc123") != encode_participant_id(pc_id)
    assert encode_participant_id("alice_1") == "alice_1"  # a valid id is sent as it is
    for raw in ("x" * 300, "é" * 100, "a b/c?d", pc_id):
        assert PARTICIPANT_ID_RE.match(encode_participant_id(raw))
    assert encode_participant_id("x" * 300) != encode_participant_id("x" * 299 + "y")
    with pytest.raises(ValueError):
        encode_participant_id("")
    assert is_camera_source("camera") and is_camera_source(None)
    assert not is_camera_source("screenVideo") and not is_camera_source("screen")


def test_downscale_fits_a_720p_frame_into_one_message() -> None:
    data = bytes(1280 * 720 * 3)
    small, w, h = downscale(data, 1280, 720, 3, 1_000_000)
    assert (w, h) == (640, 360) and len(small) == w * h * 3


def test_the_example_bot_uses_pipecat_1_14s_current_api() -> None:
    path = REPO_ROOT / "examples" / "pipecat" / "bot.py"
    py_compile.compile(str(path), doraise=True)
    tree = ast.parse(path.read_text())
    imported = {(node.module, alias.name) for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names}
    names = {name for _, name in imported}
    assert {"PipelineWorker", "WorkerRunner", "VADProcessor", "DataspikeDeepfakeProcessor"} <= names
    assert not {"PipelineTask", "PipelineRunner"} & names
    keywords = {kw.arg for node in ast.walk(tree) if isinstance(node, ast.Call) for kw in node.keywords}
    assert "vad_analyzer" in keywords  # VADProcessor(vad_analyzer=...) ...
    transport_params = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "TransportParams"]
    assert transport_params and all(kw.arg != "vad_analyzer" for n in transport_params for kw in n.keywords)  # ... not TransportParams
    # Every name it takes from pipecat exists in the installed pipecat (modules needing extras aside).
    checked = 0
    for module, name in imported:
        if not (module and module.startswith("pipecat.")):
            continue
        try:
            found = importlib.import_module(module)
        except ImportError as err:
            assert not (err.name or "").startswith("pipecat"), f"{module} is not in pipecat 1.14"
            continue  # needs one of pipecat's extras (webrtc, runner) that the tests do not install
        assert hasattr(found, name), f"{module}.{name}"
        checked += 1
    assert checked >= 6


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
    # 30 camera frames and 30 audio frames (client_vad="auto": no speaking frames, so audio would go).
    assert processor.stats["dropped_disconnected"] == 60


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




READY = {"type": "ready", "participant_id": "p", "level": "clear", "video_fps": 0.2, "normal_fps": 0.2, "burst_fps": 1,
         "simulated": True, "dev_mode": True, "jpeg_quality": 75, "audio_interval_s": 60}


@pytest.mark.parametrize(
    "text, problem",
    [
        ('{"type": "rate"}', "video_fps"),  # no video_fps: refused here, never float(None) later
        ('{"type": "rate", "video_fps": "fast"}', "video_fps"),
        ('{"type": "rate", "video_fps": -1}', "video_fps"),
        ('{"type": "rate", "video_fps": true}', "video_fps"),
        ('{"type": "ready", "participant_id": "p", "level": "purple", "video_fps": 1}', "level"),
        ('{"type": "audio", "wanted": "no"}', "wanted"),
        ('{"type": "audio", "wanted": false}', "until_ms"),
        ('{"type": "deepfake_alert", "level": "alert"}', "id"),
        ('{"type": "error", "code": 3}', "code"),
        ("[1, 2]", "object"),
        ("{not json", "JSON"),
        ('{"level": "alert"}', "type"),
    ],
)
def test_malformed_events_are_refused_with_the_reason(text: str, problem: str) -> None:
    with pytest.raises(BadEvent, match=problem):
        parse_event(text)


def test_valid_events_parse_to_typed_values_and_unknown_types_are_skipped() -> None:
    ready = parse_event(json.dumps(READY))
    assert isinstance(ready, Ready) and (ready.jpeg_quality, ready.audio_interval_s, ready.normal_fps) == (75, 60, 0.2)
    old = parse_event(json.dumps({k: v for k, v in READY.items() if k not in ("jpeg_quality", "audio_interval_s")}))
    assert isinstance(old, Ready) and old.jpeg_quality is None
    assert parse_event('{"type": "rate", "video_fps": 1}') == Rate(1.0)
    assert parse_event('{"type": "audio", "wanted": false, "until_ms": 5, "resume_in_ms": 60000}') == AudioHint(False, 60.0)
    assert parse_event('{"type": "audio", "wanted": true, "until_ms": 0, "resume_in_ms": 0}') == AudioHint(True, 0.0)
    assert parse_event('{"type": "telemetry", "id": "t_1"}') is None  # a newer service's event
    assert parse_event('{"type": "check_started", "check_id": "chk_1", "until_ms": 5}') == CheckStarted("chk_1", 5.0)
    completed = parse_event(
        '{"type": "check_completed", "id": "evt_1", "check_id": "chk_1", "level": "clear", "outcome": "answered", '
        '"results": 2, "tracks": [{"track_id": "camera", "level": "clear"}], "started_ms": 1, "completed_ms": 2, '
        '"simulated": false}'
    )
    assert isinstance(completed, CheckCompleted) and completed.tracks == (("camera", "clear"),) and completed.results == 2


def test_speech_gate_auto_lets_audio_through_until_the_pipeline_produces_speaking_frames() -> None:
    gate = SpeechGate("auto")
    assert gate.admits_audio() and gate.decider == "service" and not gate.pipeline_decides
    assert gate.speaking_frame(True) == (True, True)
    assert gate.decider == "pipeline" and gate.admits_audio()
    assert gate.speaking_frame(False) == (True, False)
    assert not gate.admits_audio()  # outside speech, now that speaking frames decide
    off = SpeechGate(False)
    off.speaking_frame(False)
    assert off.admits_audio() and off.decider == "service"
    on = SpeechGate(True)
    assert not on.admits_audio() and on.decider == "pipeline"
    with pytest.raises(ValueError):
        SpeechGate("yes")


def test_tuning_only_lowers_the_deployments_settings() -> None:
    t = Tuning(normal_fps=0.1, burst_fps=5, jpeg_quality=90, audio_interval_s=120)
    assert t.url_overrides() == {"normal_fps": 0.1, "burst_fps": 5}  # the deployment's rates are not known yet
    t.refused()
    assert t.url_overrides() == {}
    t.on_ready(parse_event(json.dumps(READY)))  # type: ignore[arg-type]
    assert t.url_overrides() == {"normal_fps": 0.1}  # burst 5 is above the deployment's 1: not asked for
    assert t.video_fps(0.2, "clear") == 0.1 and t.video_fps(1, "suspicious") == 1 and t.video_fps(0.2, "alert") == 0.1
    assert t.quality(75) == 75 and t.quality(None) == 75 and Tuning(jpeg_quality=50).quality(75) == 50
    assert t.audio_pause_s(60) == 120 and Tuning().audio_pause_s(60) == 60
    with pytest.raises(ValueError):
        Tuning(normal_fps=-1)


def test_unknown_keywords_raise_in_both_processors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TypeError, match="notification_callback"):
        DeepfakeEdgeProcessor("http://127.0.0.1:9", notification_callback=print)  # type: ignore[call-arg]
    monkeypatch.setenv("DEEPFAKE_EDGE_URL", "http://127.0.0.1:9")
    with pytest.raises(TypeError, match="notification_callback"):
        DataspikeDeepfakeProcessor(notification_callback=print)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        DataspikeDeepfakeProcessor(video_params={"normal_fps": 0.1})  # type: ignore[arg-type]
    processor = DataspikeDeepfakeProcessor(api_key="ds-key", video_params=VideoParams(normal_fps=0.1), audio_params=AudioParams())
    assert processor.state == EventType.CLEAR and processor.connection_state == "idle"
    assert [(e.name, e.value) for e in EventType] == [("UNKNOWN", 0), ("SUSPICIOUS", 1), ("CLEAR", 2), ("ERROR", 3), ("ALERT", 4)]
    monkeypatch.delenv("DEEPFAKE_EDGE_URL")
    with pytest.raises(ValueError, match="DEEPFAKE_EDGE_URL"):
        DataspikeDeepfakeProcessor()
