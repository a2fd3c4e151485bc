"""Publish events to JetStream: ``Nats-Msg-Id`` = event id, trace context in headers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nats.js.api import Header, PubAck
from opentelemetry import trace
from opentelemetry.context import Context

from emporium_kit.events import metrics
from emporium_kit.events import tracing as tr
from emporium_kit.events._guard import Guard, JetStreamSource, or_unguarded, resolve_js
from emporium_kit.events.envelope import Event

DEFAULT_PUBLISH_TIMEOUT_S = 5.0


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
        if ack.duplicate:
            metrics.PUBLISH_DUPLICATES.labels(event_type).inc()
        else:
            metrics.PUBLISHED.labels(event_type).inc()
        return ack
