"""Publish events to JetStream: ``Nats-Msg-Id`` = event id, trace context in headers."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nats.js.api import Header, PubAck
from opentelemetry import trace
from opentelemetry.context import Context

from emporium_kit.events import metrics
from emporium_kit.events import tracing as tr
from emporium_kit.events._guard import Guard, JetStreamSource, or_unguarded, resolve_js
from emporium_kit.events.envelope import Event

DEFAULT_PUBLISH_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One serialised event for :meth:`EventPublisher.publish_many`."""

    subject: str
    payload: bytes
    event_id: str
    event_type: str
    parent: Mapping[str, str] | None = None


class EventPublisher:
    """Publishes an :class:`Event` and waits for JetStream's PubAck.

    A second publish of the same event id inside the stream's duplicate window is dropped
    by JetStream (``PubAck.duplicate``), which is what makes republishing safe.
    """

    def __init__(
        self,
        js: JetStreamSource,
        *,
        timeout_s: float = DEFAULT_PUBLISH_TIMEOUT_S,
        guard: Guard | None = None,
        tracer: trace.Tracer | None = None,
    ) -> None:
        self._js = js
        self._timeout_s = timeout_s
        self._guard = or_unguarded(guard)
        self._tracer = tracer or tr.tracer()

    async def publish(self, event: Event[Any]) -> PubAck:
        """Publish as a child of the current span."""
        return await self.publish_raw(
            subject=event.subject,
            payload=event.to_json(),
            event_id=event.id,
            event_type=event.type,
        )

    async def publish_raw(
        self,
        *,
        subject: str,
        payload: bytes,
        event_id: str,
        event_type: str,
        parent: Mapping[str, str] | None = None,
    ) -> PubAck:
        """Publish serialised event bytes.

        ``parent`` carries trace headers captured earlier (an outbox entry remembers the
        request that wrote it), so the publish span joins that trace; without it the
        current span is the parent.
        """
        context: Context | None = tr.extract(parent) if parent else None
        with self._tracer.start_as_current_span(
            f"send {subject}",
            context=context,
            kind=trace.SpanKind.PRODUCER,
            attributes={
                "messaging.system": "nats",
                "messaging.operation.type": "send",
                "messaging.destination.name": subject,
                "messaging.message.id": event_id,
            },
        ):
            headers = tr.inject({Header.MSG_ID.value: event_id})
            async with self._guard():
                ack = await resolve_js(self._js).publish(
                    subject, payload, timeout=self._timeout_s, headers=headers
                )
        _count(ack, event_type)
        return ack

    async def publish_many(self, messages: Sequence[Outgoing]) -> list[PubAck | BaseException]:
        """Publish ``messages`` back to back without waiting for each PubAck (JetStream's
        async publish), then collect the acks: one round trip for the lot, not one each.

        They leave on the one connection in this order and JetStream stores them in arrival
        order, but a message whose ack failed (a missing stream, a timeout) may be followed
        by stored ones: callers that need per-aggregate order send at most one message per
        aggregate in one call (see the outbox relay). Returns, per message, its PubAck or
        the exception; when every message failed, raises (so the breaker counts it).
        """
        if not messages:
            return []
        js = resolve_js(self._js)
        futures: list[asyncio.Future[PubAck]] = []
        try:
            async with self._guard():
                for message in messages:
                    context = tr.extract(message.parent) if message.parent else None
                    with self._tracer.start_as_current_span(
                        f"send {message.subject}",
                        context=context,
                        kind=trace.SpanKind.PRODUCER,
                        attributes={
                            "messaging.system": "nats",
                            "messaging.operation.type": "send",
                            "messaging.destination.name": message.subject,
                            "messaging.message.id": message.event_id,
                        },
                    ):
                        headers = tr.inject({Header.MSG_ID.value: message.event_id})
                        futures.append(
                            await js.publish_async(
                                message.subject, message.payload, headers=headers
                            )
                        )
                results: list[PubAck | BaseException] = await asyncio.gather(
                    *futures, return_exceptions=True
                )
                if all(isinstance(r, BaseException) for r in results):
                    raise next(r for r in results if isinstance(r, BaseException))
        finally:
            for future in futures:
                future.cancel()  # no-op once done; frees nats-py's in-flight slot otherwise
        for message, result in zip(messages, results, strict=True):
            if isinstance(result, PubAck):
                _count(result, message.event_type)
        return results


def _count(ack: PubAck, event_type: str) -> None:
    if ack.duplicate:
        metrics.PUBLISH_DUPLICATES.labels(event_type).inc()
    else:
        metrics.PUBLISHED.labels(event_type).inc()
