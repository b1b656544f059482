"""The connection to the service: one WebSocket per participant, its tokens, and its backoff.

``GET /v1/participants/:id/stream`` (with ``?normal_fps=&burst_fps=`` when the bot lowers its rates),
binary protobuf ``ClientMessage``s out, JSON events in. It reconnects after 1 s doubling to 10 s, plus
up to 50 % jitter, and the delay resets after a healthy connection. A refused token (HTTP 401/403) is
kept as ``auth_error`` and not retried; a refused rate override (HTTP 400) is dropped and the
connection retried at once without it. What is sent and what events mean is the processor's
business (``ConnectionHooks``); this module only moves bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from typing import Protocol
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import aiohttp
from loguru import logger

#: Close codes after which reconnecting would only repeat the failure: normal end (the session was
#: ended), unsupported data, policy violation, message too big.
TERMINAL_CLOSE_CODES = frozenset({1000, 1003, 1008, 1009})
#: Minted tokens open client sockets only (docs/DESIGN.md §6): a leaked bot token cannot feed an SFU
#: endpoint, and the admin key itself never leaves for the socket.
MINTED_TOKEN_SCOPE = "stream"


class DeepfakeEdgeAuthError(Exception):
    """The service refused the credentials (HTTP 401/403); the processor does not retry."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class RateOverridesRefused(Exception):
    """The service answered HTTP 400 to an upgrade that carried rate overrides."""


def stream_url(base_url: str, participant_id: str, overrides: dict[str, float] | None = None) -> str:
    parts = urlsplit(base_url.rstrip("/"))
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None:
        raise ValueError(f"base_url must be http(s):// or ws(s)://, got {base_url!r}")
    path = f"{parts.path}/v1/participants/{quote(participant_id, safe='')}/stream"
    query = urlencode({k: f"{v:g}" for k, v in (overrides or {}).items()})
    return urlunsplit((scheme, parts.netloc, path, query, ""))


def http_url(base_url: str, path: str) -> str:
    parts = urlsplit(base_url.rstrip("/"))
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, parts.path + path, "", ""))


class Backoff:
    """1 s doubling to 10 s, plus up to 50 % random jitter; reset after a healthy connection."""

    def __init__(self, initial_s: float = 1.0, max_s: float = 10.0, jitter_ratio: float = 0.5) -> None:
        self.initial_s, self.max_s, self.jitter_ratio = float(initial_s), float(max_s), float(jitter_ratio)
        self.failures = 0

    def next_delay(self) -> float:
        delay = min(self.initial_s * (2**self.failures), self.max_s)
        self.failures += 1
        return delay + random.uniform(0, delay * self.jitter_ratio)

    def reset(self) -> None:
        self.failures = 0


class ConnectionHooks(Protocol):
    def opening_messages(self) -> list[tuple[str, bytes]]: ...
    async def next_message(self) -> tuple[str, bytes] | None: ...
    def on_text(self, text: str) -> None: ...
    def on_binary(self) -> None: ...
    def on_open(self) -> None: ...
    def on_gone(self) -> None: ...
    def rate_overrides(self) -> dict[str, float]: ...
    def rate_overrides_refused(self) -> None: ...


class Connection:
    """Keeps one participant's socket up until ``stop()``; the hooks decide what flows over it."""

    def __init__(
        self,
        base_url: str,
        hooks: ConnectionHooks,
        session: Callable[[], aiohttp.ClientSession],
        stats: dict,
        *,
        token: str | None,
        admin_key: str | None,
        token_ttl_s: int,
        backoff: Backoff,
        healthy_after_s: float,
        connect_timeout_s: float,
        heartbeat_s: float | None,
    ) -> None:
        stream_url(base_url, "x")  # validates the scheme now, not at the first connect
        self.base_url = base_url
        self._hooks = hooks
        self._session = session
        self._stats = stats
        self._token, self._admin_key, self._token_ttl_s = token, admin_key, int(token_ttl_s)
        self._backoff = backoff
        self._healthy_after_s = float(healthy_after_s)
        self._connect_timeout_s = float(connect_timeout_s)
        self._heartbeat_s = heartbeat_s
        self._minted: tuple[str, str, float] | None = None  # participant, token, expires_at (epoch s)
        self.participant_id: str | None = None
        self.participant_changed = asyncio.Event()
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.state = "idle"
        self.state_event = asyncio.Event()
        self.auth_error: DeepfakeEdgeAuthError | None = None

    @property
    def open(self) -> bool:
        return self.ws is not None and not self.ws.closed

    def set_participant(self, participant_id: str) -> None:
        if participant_id != self.participant_id:
            self.participant_id = participant_id
            self.participant_changed.set()

    def set_state(self, state: str) -> None:
        self.state = state
        event, self.state_event = self.state_event, asyncio.Event()
        event.set()

    async def run(self) -> None:
        """Connects, serves and reconnects until cancelled (or refused for good)."""
        self.auth_error = None
        while True:
            if self.participant_id is None:
                self.set_state("waiting_for_participant")
                await self.participant_changed.wait()
                continue
            self.participant_changed.clear()
            participant_id = self.participant_id
            self.set_state("connecting")
            try:
                ws = await self._connect(participant_id)
            except DeepfakeEdgeAuthError as err:
                self.auth_error = err
                logger.error(f"deepfake-edge: {err}; not retrying (check the token or admin key)")
                self.set_state("auth_failed")
                return
            except RateOverridesRefused:
                self._hooks.rate_overrides_refused()
                continue  # at once, without the overrides
            except asyncio.CancelledError:
                raise
            except Exception as err:
                reason = f"connect failed: {describe(err)}"
            else:
                opened_at = time.monotonic()
                code, reason = await self._serve(ws)
                if code in TERMINAL_CLOSE_CODES and not self.participant_changed.is_set():
                    logger.error(f"deepfake-edge: the service closed the socket ({reason}); not reconnecting")
                    self.set_state("closed")
                    return
                if self.participant_changed.is_set():
                    self._backoff.reset()
                    continue
                if time.monotonic() - opened_at >= self._healthy_after_s:
                    self._backoff.reset()
            delay = self._backoff.next_delay()
            self._stats["reconnects"] += 1
            logger.warning(f"deepfake-edge: {reason}; reconnecting in {delay:.1f} s")
            self.set_state("reconnecting")
            with contextlib.suppress(asyncio.TimeoutError):
                # A new participant id cuts the wait short.
                await asyncio.wait_for(self.participant_changed.wait(), delay)

    async def close(self) -> None:
        ws, self.ws = self.ws, None
        if ws is not None and not ws.closed:
            with contextlib.suppress(Exception):
                await ws.close()

    async def _connect(self, participant_id: str) -> aiohttp.ClientWebSocketResponse:
        token = await self._token_for(participant_id)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        overrides = self._hooks.rate_overrides()
        url = stream_url(self.base_url, participant_id, overrides)
        try:
            return await asyncio.wait_for(
                self._session().ws_connect(
                    url,
                    headers=headers,
                    timeout=aiohttp.ClientWSTimeout(ws_close=2.0),
                    heartbeat=self._heartbeat_s,
                    max_msg_size=0,
                ),
                self._connect_timeout_s,
            )
        except aiohttp.WSServerHandshakeError as err:
            if err.status in (401, 403):
                what = "connect token" if token else "connection without a token"
                raise DeepfakeEdgeAuthError(
                    f"the service refused the {what} for participant {participant_id!r} (HTTP {err.status})", err.status
                ) from err
            if err.status == 400 and overrides:
                raise RateOverridesRefused() from err
            raise

    async def _token_for(self, participant_id: str) -> str | None:
        if self._token:
            return self._token
        if not self._admin_key:
            return None
        minted = self._minted
        if minted is not None and minted[0] == participant_id and minted[2] - time.time() > 60:
            return minted[1]
        url = http_url(self.base_url, "/v1/tokens")
        body = {"participant_id": participant_id, "ttl_s": self._token_ttl_s, "scope": MINTED_TOKEN_SCOPE}
        async with self._session().post(
            url,
            json=body,
            headers={"Authorization": f"Bearer {self._admin_key}"},
            timeout=aiohttp.ClientTimeout(total=self._connect_timeout_s),
        ) as res:
            if res.status in (401, 403):
                message = f"the service refused the admin key at POST /v1/tokens (HTTP {res.status})"
                raise DeepfakeEdgeAuthError(message, res.status)
            if res.status != 200:
                raise RuntimeError(f"POST /v1/tokens answered HTTP {res.status}: {(await res.text())[:200]}")
            data = await res.json()
        token = data.get("token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise RuntimeError("POST /v1/tokens answered without a token")
        expires_at = data.get("expires_at")
        if isinstance(expires_at, bool) or not isinstance(expires_at, (int, float)):
            expires_at = time.time() + self._token_ttl_s
        self._minted = (participant_id, token, float(expires_at))
        return token

    async def _serve(self, ws: aiohttp.ClientWebSocketResponse) -> tuple[int | None, str]:
        """Runs one connection until it closes; returns the close code and a reason."""
        self.ws = ws
        self._stats["connects"] += 1
        self.set_state("open")
        self._hooks.on_open()
        tasks: list[asyncio.Task] = []
        try:
            for kind, data in self._hooks.opening_messages():
                await ws.send_bytes(data)
                self._count_sent(kind, len(data))
            loop = asyncio.get_running_loop()
            changed = loop.create_task(self.participant_changed.wait())
            tasks = [loop.create_task(self._send_loop(ws)), loop.create_task(self._receive_loop(ws)), changed]
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if changed in done:
                return None, "participant changed"
            for task in done:
                if task.exception() is not None:
                    return ws.close_code, f"socket failed: {describe(task.exception())}"
            return ws.close_code, f"socket closed ({ws.close_code})"
        except asyncio.CancelledError:
            raise
        except Exception as err:
            return ws.close_code, f"socket failed: {describe(err)}"
        finally:
            for task in tasks:
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
            if self.ws is ws:
                self.ws = None
            self._hooks.on_gone()
            if not ws.closed:
                with contextlib.suppress(Exception):
                    await ws.close()

    async def _send_loop(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            item = await self._hooks.next_message()
            if item is None:
                continue
            kind, data = item
            await ws.send_bytes(data)
            self._count_sent(kind, len(data))

    def _count_sent(self, kind: str, nbytes: int) -> None:
        self._stats["messages_sent"] += 1
        self._stats["bytes_sent"] += nbytes
        key = {"video": "video_frames_sent", "audio": "audio_frames_sent"}.get(kind)
        if key is not None:
            self._stats[key] += 1
            self._stats[f"{kind}_bytes_sent"] += nbytes
        elif kind == "speaking":
            self._stats["speaking_sent"] += 1

    async def _receive_loop(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                self._hooks.on_text(msg.data)
            elif msg.type == aiohttp.WSMsgType.ERROR:
                raise ConnectionError(f"WebSocket error: {ws.exception()!r}")
            else:
                self._hooks.on_binary()


def describe(err: BaseException | None) -> str:
    return f"{type(err).__name__}: {err}" if err is not None else "unknown"

