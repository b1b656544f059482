"""Participant ids: what the service accepts, and how other ids are sent (and mapped back).

The service takes 1-128 characters of ``[A-Za-z0-9._:-]``. Pipecat's ids often have others:
SmallWebRTC's ``pc_id`` is ``SmallWebRTCConnection#0-<hex>``. Such an id is sent with each other
character written as ``_`` and its UTF-8 bytes in hex (``#`` becomes ``_23``), so two different ids
never share a participant on the service. The processor keeps the id the bot set and puts it back
into every event, callback and ``stats`` it reports: only the service's own records (webhooks, the
HTTP API) show the encoded form.
"""

from __future__ import annotations

import hashlib
import re

PARTICIPANT_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_OTHER = re.compile(r"[^A-Za-z0-9._:-]")
MAX_PARTICIPANT_ID = 128
_HASH_CHARS = 16


def encode_participant_id(raw: str) -> str:
    """The id the service gets for ``raw``: itself when valid, else an encoded form (see the module)."""
    raw = str(raw)
    if not raw:
        raise ValueError("participant id must not be empty")
    if PARTICIPANT_ID_RE.match(raw):
        return raw
    encoded = _OTHER.sub(lambda m: "".join(f"_{b:02x}" for b in m.group().encode()), raw)
    if len(encoded) > MAX_PARTICIPANT_ID:
        digest = hashlib.sha256(raw.encode()).hexdigest()[:_HASH_CHARS]
        encoded = f"{encoded[: MAX_PARTICIPANT_ID - _HASH_CHARS - 1]}-{digest}"
    return encoded
