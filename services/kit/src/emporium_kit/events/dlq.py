"""Dead letters: what a consumer gave up on, why, and how to send it back.

A dead letter is the original message (payload and trace headers unchanged) stored in
``EMPORIUM_DLQ`` under ``emporium.dlq.<consumer>.<domain>.<EventName>`` with headers that say
where it came from and why it failed. :func:`replay_dead_letters` republishes it to the
original subject with a fresh ``Nats-Msg-Id`` (so the duplicate window does not drop it)
but the same envelope and event id, then deletes it from the DLQ. Every durable consumer
of that subject sees the replay; those that already handled the event id ack it without
running their handler again.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from nats.js import JetStreamContext
from nats.js.api import Header
from nats.js.errors import NotFoundError
from ulid import ULID

from emporium_kit.events import metrics
from emporium_kit.events import tracing as tr
from emporium_kit.events.envelope import DLQ_DOMAIN, SUBJECT_ROOT
from emporium_kit.events.streams import DLQ_STREAM

log = logging.getLogger(__name__)

H_ORIGINAL_SUBJECT = "Emporium-Original-Subject"
H_ORIGINAL_STREAM = "Emporium-Original-Stream"
H_ORIGINAL_SEQ = "Emporium-Original-Sequence"
H_CONSUMER = "Emporium-Consumer"
H_ERROR = "Emporium-Error"
H_DELIVERIES = "Emporium-Deliveries"
H_EVENT_ID = "Emporium-Event-Id"
H_DEAD_LETTERED_AT = "Emporium-Dead-Lettered-At"
H_REPLAY_OF = "Emporium-Replay-Of"

MAX_ERROR_CHARS = 1024


def dlq_subject(consumer: str, original_subject: str) -> str:
    """``emporium.<domain>.<Type>`` -> ``emporium.dlq.<consumer>.<domain>.<Type>``."""
    _, domain, event_type = original_subject.split(".", 2)
    return f"{SUBJECT_ROOT}.{DLQ_DOMAIN}.{consumer}.{domain}.{event_type}"


def dlq_filter(consumer: str | None = None) -> str:
    root = f"{SUBJECT_ROOT}.{DLQ_DOMAIN}"
    return f"{root}.{consumer}.>" if consumer else f"{root}.>"


def _header_safe(text: str) -> str:
    # Header values are single lines; keep the reason readable but bounded.
    return " ".join(text.split())[:MAX_ERROR_CHARS] or "-"


def dead_letter_headers(
    *,
    original_headers: Mapping[str, str] | None,
    original_subject: str,
    original_stream: str,
    original_seq: int,
    consumer: str,
    error: str,
    deliveries: int,
    event_id: str | None,
) -> dict[str, str]:
    headers = tr.trace_headers(original_headers)
    headers.update(
        {
            # One dead letter per original stream message and consumer, however often
            # dead-lettering is retried.
            Header.MSG_ID.value: f"dlq:{consumer}:{original_stream}:{original_seq}",
            H_ORIGINAL_SUBJECT: original_subject,
            H_ORIGINAL_STREAM: original_stream,
            H_ORIGINAL_SEQ: str(original_seq),
            H_CONSUMER: consumer,
            H_ERROR: _header_safe(error),
            H_DELIVERIES: str(deliveries),
            H_DEAD_LETTERED_AT: datetime.now(UTC).isoformat(),
        }
    )
    if event_id:
        headers[H_EVENT_ID] = event_id
    return headers


@dataclass(frozen=True)
class DeadLetter:
    seq: int
    subject: str
    consumer: str
    original_subject: str
    error: str
    deliveries: int
    event_id: str | None
    dead_lettered_at: datetime | None
    data: bytes
    headers: dict[str, str] = field(repr=False)

    @property
    def event_type(self) -> str:
        return self.original_subject.rsplit(".", 1)[-1]

    @classmethod
    def from_stream(
        cls, seq: int, subject: str, data: bytes | None, headers: Mapping[str, str] | None
    ) -> DeadLetter:
        hdrs = dict(headers or {})
        stamped = hdrs.get(H_DEAD_LETTERED_AT)
        return cls(
            seq=seq,
            subject=subject,
            consumer=hdrs.get(H_CONSUMER, subject.split(".")[2]),
            original_subject=hdrs.get(H_ORIGINAL_SUBJECT, ""),
            error=hdrs.get(H_ERROR, ""),
            deliveries=int(hdrs.get(H_DELIVERIES, "0")),
            event_id=hdrs.get(H_EVENT_ID),
            dead_lettered_at=datetime.fromisoformat(stamped) if stamped else None,
            data=data or b"",
            headers=hdrs,
        )


async def list_dead_letters(
    js: JetStreamContext,
    *,
    consumer: str | None = None,
    limit: int = 100,
    start_seq: int = 1,
) -> list[DeadLetter]:
    """Dead letters in stream order, optionally only one consumer's."""
    subject = dlq_filter(consumer)
    letters: list[DeadLetter] = []
    seq = max(start_seq, 1)
    while len(letters) < limit:
        try:
            raw = await js.get_msg(DLQ_STREAM, seq=seq, subject=subject, next=True)
        except NotFoundError:
            break
        found_seq, subject = int(raw.seq or seq), str(raw.subject)
        letters.append(DeadLetter.from_stream(found_seq, subject, raw.data, raw.headers))
        seq = found_seq + 1
    return letters


async def _select(
    js: JetStreamContext,
    consumer: str | None,
    seqs: Collection[int] | None,
    limit: int,
) -> list[DeadLetter]:
    if not seqs:
        return await list_dead_letters(js, consumer=consumer, limit=limit)
    letters = []
    for seq in sorted(seqs):
        found = await list_dead_letters(js, consumer=consumer, limit=1, start_seq=seq)
        if found and found[0].seq == seq:
            letters.append(found[0])
    return letters


async def replay_dead_letters(
    js: JetStreamContext,
    *,
    consumer: str | None = None,
    seqs: Collection[int] | None = None,
    limit: int = 1000,
    timeout_s: float = 5.0,
) -> list[DeadLetter]:
    """Republish dead letters to their original subjects, then delete them from the DLQ.

    A crash between the two replays the letter again next time; consumers' processed-event
    stores make that harmless. Returns the letters replayed.
    """
    replayed: list[DeadLetter] = []
    for letter in await _select(js, consumer, seqs, limit):
        if not letter.original_subject:
            log.error("dead letter %s has no original subject; skipped", letter.seq)
            continue
        headers = tr.trace_headers(letter.headers)
        headers[Header.MSG_ID.value] = f"{letter.event_id or 'replay'}:replay:{ULID()}"
        headers[H_REPLAY_OF] = str(letter.seq)
        await js.publish(letter.original_subject, letter.data, timeout=timeout_s, headers=headers)
        await js.delete_msg(DLQ_STREAM, letter.seq)
        metrics.REPLAYED.labels(letter.consumer).inc()
        replayed.append(letter)
    return replayed


async def discard_dead_letters(
    js: JetStreamContext,
    *,
    consumer: str | None = None,
    seqs: Collection[int] | None = None,
    limit: int = 1000,
) -> list[DeadLetter]:
    """Delete dead letters without replaying them (an operator decided they are moot)."""
    letters = await _select(js, consumer, seqs, limit)
    for letter in letters:
        await js.delete_msg(DLQ_STREAM, letter.seq)
    return letters
