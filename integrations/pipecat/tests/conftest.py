"""Test fixtures: a real `wrangler dev` of this repository, and a real Pipecat pipeline around the processor.

wrangler runs workerd as a child process, so it is spawned in its own process group and stopped by
signalling the whole group (as test/e2e/harness/wrangler-dev.ts does); only 127.0.0.1 is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from loguru import logger
from pipecat.frames.frames import Frame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.workers.runner import WorkerRunner

REPO_ROOT = Path(__file__).resolve().parents[3]
MEASURES: list[str] = []

# Pipecat logs every frame hop at DEBUG; keep INFO and above (shown for failed tests only).
logger.remove()
logger.add(sys.stderr, level="INFO")


def measure(line: str) -> None:
    """A measured figure: printed with the test's output and again at the end of the run."""
    text = f"[measure] {line}"
    print(text)
    MEASURES.append(text)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if MEASURES:
        terminalreporter.section("measured")
        for line in MEASURES:
            terminalreporter.write_line(line)
WRANGLER = REPO_ROOT / "node_modules" / ".bin" / "wrangler"
HEALTH_TIMEOUT_S = 75.0
STOP_GRACE_S = 5.0


PORT_RACE_ATTEMPTS = 3


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WranglerDev:
    """One `wrangler dev --var DEV_MODE:true` on 127.0.0.1; start() can be called again after kill9()."""

    def __init__(self, vars: dict[str, str], port: int | None = None) -> None:
        self.vars = {"DEV_MODE": "true", **vars}
        self._port_given = port is not None
        self._started = False
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._dir = Path(tempfile.mkdtemp(prefix="deepfake-edge-pipecat-"))
        self._proc: subprocess.Popen | None = None
        self._log_path = self._dir / "wrangler.log"

    def start(self) -> None:
        """Starts wrangler dev; again on new ports when one was taken between free_port() and the bind
        (the port of a restart stays the same: clients reconnect to it)."""
        for attempt in range(1, PORT_RACE_ATTEMPTS + 1):
            try:
                self._start_once()
                self._started = True
                return
            except RuntimeError as err:
                if "address already in use" not in str(err).lower() or attempt == PORT_RACE_ATTEMPTS:
                    raise
                self.stop()
                if not self._port_given and not self._started:
                    self.port = free_port()
                    self.url = f"http://127.0.0.1:{self.port}"

    def _start_once(self) -> None:
        if not WRANGLER.exists():
            pytest.fail(f"{WRANGLER} is missing: run `npm ci --no-audit --no-fund` in {REPO_ROOT}")
        args = [
            str(WRANGLER), "dev",
            "--ip", "127.0.0.1",
            "--port", str(self.port),
            "--inspector-port", str(free_port()),
            "--persist-to", str(self._dir / "state"),
            "--show-interactive-dev-session=false",
        ]
        for key, value in self.vars.items():
            args += ["--var", f"{key}:{value}"]
        env = {
            **os.environ,
            "WRANGLER_SEND_METRICS": "false",
            "CI": "true",
            "NO_COLOR": "1",
            "FORCE_COLOR": "0",
            "WRANGLER_LOG_PATH": str(self._dir / "wrangler-logs"),
        }
        log_start = self._log_path.stat().st_size if self._log_path.exists() else 0
        log = open(self._log_path, "ab")
        self._proc = subprocess.Popen(
            args, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        problem = "no attempt yet"
        while True:
            if self._proc.poll() is not None:
                output = self._log_path.read_bytes()[log_start:].decode(errors="replace")[-20_000:]
                raise RuntimeError(f"wrangler dev exited with {self._proc.returncode} before /healthz answered:\n{output}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as res:
                    if res.status == 200:
                        return
                    problem = f"/healthz answered {res.status}"
            except (urllib.error.URLError, OSError) as err:
                problem = f"/healthz failed: {err}"
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"wrangler dev did not become healthy at {self.url} ({problem}):\n{self.logs()}")
            time.sleep(0.25)

    def logs(self) -> str:
        try:
            return self._log_path.read_text(errors="replace")[-20_000:]
        except OSError:
            return ""

    def _signal(self, sig: int) -> None:
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, sig)

    def kill9(self) -> None:
        """The service goes away at once (its whole process group)."""
        self._signal(signal.SIGKILL)
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=STOP_GRACE_S)

    def stop(self) -> None:
        if self._proc is None:
            return
        self._signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=STOP_GRACE_S)
        self._signal(signal.SIGKILL)  # workerd may outlive wrangler
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=STOP_GRACE_S)
        self._proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)


ADMIN_KEY = "admin-" + secrets.token_hex(12)


@pytest.fixture(scope="session")
def edge() -> Iterator[WranglerDev]:
    """Development mode with the simulator, but with a token secret and an admin key set, so the
    processor has to mint its connect token; audio chunks are not rate limited (AUDIO_INTERVAL_S 0)."""
    server = WranglerDev(
        {
            "CONNECT_TOKEN_SECRET": secrets.token_hex(16),
            "ADMIN_API_KEY": ADMIN_KEY,
            "AUDIO_INTERVAL_S": "0",
        }
    )
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    # The admin key: with a secret configured, the simulator controls need it even in development mode.
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as session:
        yield session


async def get_json(http: aiohttp.ClientSession, url: str, **kwargs: Any) -> Any:
    async with http.get(url, timeout=aiohttp.ClientTimeout(total=5), **kwargs) as res:
        assert res.status == 200, f"GET {url}: {res.status} {await res.text()}"
        return await res.json()


async def post_json(http: aiohttp.ClientSession, url: str, body: Any, **kwargs: Any) -> Any:
    async with http.post(url, data=json.dumps(body), timeout=aiohttp.ClientTimeout(total=5), **kwargs) as res:
        assert res.status == 200, f"POST {url}: {res.status} {await res.text()}"
        return await res.json()


class Sink(FrameProcessor):
    """The end of the test pipeline: counts what came out of the processor, and checks it is the same object."""

    def __init__(self, sent: dict[int, Frame]) -> None:
        super().__init__(name="test-sink")
        self._sent = sent
        self.counts: Counter[str] = Counter()
        self.changed = 0

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        original = self._sent.get(frame.id)
        if original is not None:
            self.counts[type(frame).__name__] += 1
            if original is not frame:
                self.changed += 1
        await self.push_frame(frame, direction)


class RunningPipeline:
    """Pipeline([processor, sink]) under a PipelineWorker and WorkerRunner; frames go in with queue_frame."""

    def __init__(self, processor: FrameProcessor) -> None:
        self.sent: dict[int, Frame] = {}
        self.counts_in: Counter[str] = Counter()
        self.sink = Sink(self.sent)
        self.worker = PipelineWorker(
            Pipeline([processor, self.sink]),
            idle_timeout_secs=None,
            enable_rtvi=False,
            check_dangling_tasks=False,
        )
        self._started = asyncio.Event()
        self._task: asyncio.Task | None = None

        @self.worker.event_handler("on_pipeline_started")
        async def _started(worker: Any, frame: Any) -> None:
            self._started.set()

    async def __aenter__(self) -> "RunningPipeline":
        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(self.worker)
        self._task = asyncio.create_task(runner.run())
        await asyncio.wait_for(self._started.wait(), 20)
        return self

    async def push(self, frame: Frame) -> None:
        self.sent[frame.id] = frame
        self.counts_in[type(frame).__name__] += 1
        await self.worker.queue_frame(frame)

    async def finish(self) -> None:
        """Ends the pipeline after everything queued so far went through."""
        await self.worker.stop_when_done()
        assert self._task is not None
        await asyncio.wait_for(self._task, 30)

    async def __aexit__(self, *exc: Any) -> None:
        if self._task is not None and not self._task.done():
            await self.worker.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self._task, 15)


class Pacer:
    """Calls happen on a deadline schedule (like a real source), not sleep-after-work."""

    def __init__(self, hz: float) -> None:
        self.period = 1.0 / hz
        self._next = time.monotonic()

    async def tick(self) -> None:
        self._next += self.period
        delay = self._next - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -1.0:
            self._next = time.monotonic()  # far behind: do not burst to catch up


@pytest.fixture(autouse=True)
def _report_duration(request: pytest.FixtureRequest) -> Iterator[None]:
    """For tests with their own timeout: how much of it they used (the aim is under a third)."""
    marker = request.node.get_closest_marker("timeout")
    started = time.monotonic()
    yield
    if marker is not None:
        took = time.monotonic() - started
        measure(f"{request.node.name}: {took:.1f} s of its {marker.args[0]} s timeout ({100 * took / marker.args[0]:.0f} %)")
