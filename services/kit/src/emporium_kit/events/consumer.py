"""Durable JetStream pull consumers with idempotent handlers and a dead-letter stream.

::

    consumer = EventConsumer("search-indexer", js, ProcessedEvents(db["processed_events"]))
    consumer.subscribe(ProductCreated, on_product_created)  # async def (event: Event[P])
    await consumer.start()   # the app factory runs it as a background worker
    await consumer.stop()    # finishes the message in hand, hands back the rest

Per domain stream the consumer is one durable (named after the consumer) filtered to the
subscribed subjects, with explicit acks and ``ack_wait``; a new durable starts at the
stream's first message (``deliver="all"``) or at the next one published (``"new"``). Each
delivery:

1. opens a CONSUMER span whose parent is the trace context in the message headers;
2. parses the envelope with the subscribed spec; an unreadable one is dead-lettered at once;
3. claims the event id in :class:`ProcessedEvents`; an id already done is acked unhandled;
4. runs the handler (sending in-progress acks and extending the claim while it runs);
5. success: mark done, ack. Failure: release the claim and ``nak`` with backoff, or — on
   delivery ``max_deliver`` — publish it to ``emporium.dlq.<consumer>.<domain>.<Type>`` with
   the reason and ``term`` it.

The handler runs at most ``max_deliver`` times. JetStream itself redelivers without limit
(``max_deliver=-1`` on the server) so that a message whose dead-lettering failed, or whose
last attempt died with the process, is redelivered and dead-lettered then, never dropped.

A *batch* consumer (:meth:`EventConsumer.subscribe_batch`) hands a whole fetched batch to
one handler, which reports the events it could not apply (:class:`BatchResult`); the others
are acked, each failed one is retried or dead-lettered on its own. Claims and done marks are
then written per batch, or not at all with ``processed=None``, for handlers whose target is
idempotent by version (search's external versions). See docs/events.md, *Batch consumers*.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from pydantic import BaseModel

from emporium_kit.events import metrics
from emporium_kit.events import tracing as tr
from emporium_kit.events._guard import Guard, JetStreamSource, or_unguarded, resolve_js
from emporium_kit.events.dlq import dead_letter_headers, dlq_subject
from emporium_kit.events.envelope import Event, EventCatalog, EventSpec
from emporium_kit.events.processed import Claim, ClaimOutcome, ProcessedEvents
from emporium_kit.events.streams import stream_name

log = logging.getLogger(__name__)

P = TypeVar("P", bound=BaseModel)
Handler = Callable[[Event[P]], Awaitable[None]]
# where a new durable starts: the stream's first retained message, or the next one published
Deliver = Literal["all", "new"]

CONSUMER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
DEFAULT_BACKOFF_S = (1.0, 5.0, 15.0, 30.0, 60.0)
LEASE_FRACTION = 0.8  # a claim lapses before JetStream redelivers a message whose worker died


@dataclass(frozen=True)
class Subscription:
    spec: EventSpec[Any]
    handler: Handler[Any]


@dataclass(frozen=True)
class BatchResult:
    """What a batch handler could not apply: event id -> the reason. Every other event of
    the batch counts as applied. Return ``None`` (or an empty result) when all were."""

    failed: Mapping[str, BaseException] = field(default_factory=dict)


BatchHandler = Callable[[Sequence[Event[Any]]], Awaitable[BatchResult | None]]


@dataclass
class _Delivery:
    """One message of a batch on its way through claim, handler and ack."""

    msg: Msg
    attempt: int
    event_type: str
    event: Event[Any] | None = None
    token: str = ""

    @property
    def event_id(self) -> str:
        assert self.event is not None, "parsed before use"
        return self.event.id


class EventConsumer:
    """One logical consumer (e.g. ``search-indexer``) of one or more event types."""

    def __init__(
        self,
        name: str,
        js: JetStreamSource,
        processed: ProcessedEvents | None,
        *,
        catalog: EventCatalog | None = None,
        deliver: Deliver = "all",
        max_deliver: int = 5,
        ack_wait_s: float = 30.0,
        backoff_s: Sequence[float] = DEFAULT_BACKOFF_S,
        batch_size: int = 10,
        fetch_timeout_s: float = 1.0,
        max_wait_s: float = 0.0,
        publish_timeout_s: float = 5.0,
        nats_guard: Guard | None = None,
        tracer: trace.Tracer | None = None,
    ) -> None:
        if not CONSUMER_NAME.match(name):
            raise ValueError(f"invalid consumer name {name!r} (letters, digits, - and _)")
        if max_deliver < 1:
            raise ValueError("max_deliver must be >= 1")
        if not backoff_s:
            raise ValueError("backoff_s needs at least one delay")
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if max_wait_s < 0:
            raise ValueError("max_wait_s must be >= 0")
        self.name = name
        self.max_deliver = max_deliver
        self.ack_wait_s = ack_wait_s
        self.deliver = deliver
        self._js = js
        self._processed = processed
        self._catalog = catalog
        self._backoff_s = tuple(backoff_s)
        self._batch_size = batch_size
        self._fetch_timeout_s = fetch_timeout_s
        self._max_wait_s = max_wait_s
        self._batch_handler: BatchHandler | None = None
        self._publish_timeout_s = publish_timeout_s
        self._nats_guard = or_unguarded(nats_guard)
        self._tracer = tracer or tr.tracer()
        self._subscriptions: dict[str, Subscription] = {}
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # -- registration -------------------------------------------------------------------

    def subscribe(self, spec: EventSpec[P], handler: Handler[P]) -> None:
        if self._batch_handler is not None:
            raise ValueError(f"{self.name} is a batch consumer: use subscribe_batch")
        self._add(spec, handler)

    def subscribe_batch(self, specs: Sequence[EventSpec[Any]], handler: BatchHandler) -> None:
        """Handle every event of ``specs`` with one handler per fetched batch.

        The handler gets the batch's events in stream order and returns a
        :class:`BatchResult` naming the events it could not apply; raising fails the whole
        batch. One batch handler per consumer, and no per-event handlers beside it.
        """
        if self._subscriptions:
            raise ValueError(f"{self.name} already has subscriptions")
        if not specs:
            raise ValueError("subscribe_batch needs at least one event spec")

        async def unused(event: Event[Any]) -> None:  # pragma: no cover - never called
            raise AssertionError("a batch consumer handles whole batches")

        for spec in specs:
            self._add(spec, unused)
        self._batch_handler = handler

    def _add(self, spec: EventSpec[Any], handler: Handler[Any]) -> None:
        if self._tasks:
            raise RuntimeError("subscribe before start()")
        if self._catalog is not None and spec not in self._catalog.consumed:
            raise LookupError(f"{self._catalog.service} does not declare consuming {spec.subject}")
        if spec.subject in self._subscriptions:
            raise ValueError(f"{self.name} already handles {spec.subject}")
        self._subscriptions[spec.subject] = Subscription(spec, handler)

    def handles(self, spec: EventSpec[P]) -> Callable[[Handler[P]], Handler[P]]:
        """Decorator form of :meth:`subscribe`."""

        def register(handler: Handler[P]) -> Handler[P]:
            self.subscribe(spec, handler)
            return handler

        return register

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        return tuple(self._subscriptions.values())

    def _subjects_by_domain(self) -> dict[str, list[str]]:
        by_domain: dict[str, list[str]] = {}
        for sub in self._subscriptions.values():
            by_domain.setdefault(sub.spec.domain, []).append(sub.spec.subject)
        return {d: sorted(s) for d, s in sorted(by_domain.items())}

    def consumer_config(self, subjects: Sequence[str]) -> ConsumerConfig:
        return ConsumerConfig(
            name=self.name,
            durable_name=self.name,
            description=f"Emporium consumer {self.name}",
            deliver_policy=DeliverPolicy.NEW if self.deliver == "new" else DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait_s,
            max_deliver=-1,
            filter_subjects=list(subjects),
            max_ack_pending=max(self._batch_size * 4, 100),
        )

    # -- lifecycle ----------------------------------------------------------------------

    async def setup(self) -> None:
        """Create or update the durable consumers and the processed-events index."""
        if self._processed is not None:
            await self._processed.ensure_indexes()
        js = resolve_js(self._js)
        for domain, subjects in self._subjects_by_domain().items():
            await js.add_consumer(stream_name(domain), self.consumer_config(subjects))

    async def start(self) -> None:
        if self._tasks:
            return
        if not self._subscriptions:
            raise RuntimeError(f"consumer {self.name} has no subscriptions")
        await self.setup()
        self._stopping.clear()
        for domain in self._subjects_by_domain():
            stream = stream_name(domain)
            sub = await resolve_js(self._js).pull_subscribe_bind(durable=self.name, stream=stream)
            self._tasks.append(
                asyncio.create_task(self._run(sub), name=f"consumer:{self.name}:{stream}")
            )

    async def stop(self) -> None:
        """Finish the message in hand, nak the rest of the batch, then return.

        The fetch loop sees the stop within ``fetch_timeout_s``; an idle fetch is not
        cancelled so that no message is left in flight with nobody to ack it.
        """
        if not self._tasks:
            return
        self._stopping.set()
        tasks, self._tasks = self._tasks, []
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, sub: JetStreamContext.PullSubscription) -> None:
        error_backoff = 0.0
        try:
            while not self._stopping.is_set():
                try:
                    messages = await self._fetch(sub)
                except (NatsTimeoutError, TimeoutError):
                    continue  # nothing to fetch (nats-py raises either)
                except Exception:
                    log.exception("consumer %s: fetch failed", self.name)
                    error_backoff = min(max(error_backoff * 2, 0.5), 10.0)
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(error_backoff):
                            await self._stopping.wait()
                    continue
                error_backoff = 0.0
                if self._batch_handler is not None:
                    if self._stopping.is_set():
                        await self._hand_back(messages)
                        break
                    # Shielded: stopping the app must not cut a batch half-way.
                    await asyncio.shield(self._handle_batch(messages))
                    continue
                refreshed = time.monotonic()
                for index, msg in enumerate(messages):
                    if self._stopping.is_set():
                        await self._hand_back(messages[index:])
                        break
                    if time.monotonic() - refreshed > self.ack_wait_s / 2:
                        # The batch waits behind slow handlers: keep JetStream from
                        # redelivering messages that are queued here.
                        await self._keep_waiting(messages[index:])
                        refreshed = time.monotonic()
                    # Shielded: stopping the app must not cut a handler half-way.
                    await asyncio.shield(self._handle(msg))
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _fetch(self, sub: JetStreamContext.PullSubscription) -> list[Msg]:
        """Up to ``batch_size`` messages: what the first fetch returns (it waits up to
        ``fetch_timeout_s`` for one), topped up for at most ``max_wait_s`` more while the
        batch is not full, so a trickle of events still makes batches."""
        messages = list(await sub.fetch(self._batch_size, timeout=self._fetch_timeout_s))
        deadline = time.monotonic() + self._max_wait_s
        while len(messages) < self._batch_size and not self._stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                messages += await sub.fetch(self._batch_size - len(messages), timeout=left)
            except (NatsTimeoutError, TimeoutError):
                # nats-py raises the plain TimeoutError from a fetch's later phase; either
                # way the messages in hand must go on, never be dropped with the error
                break
            except Exception as exc:
                log.warning("consumer %s: topping up a batch failed: %r", self.name, exc)
                break
        return messages

    async def _keep_waiting(self, messages: Sequence[Msg]) -> None:
        for msg in messages:
            with contextlib.suppress(Exception):
                await msg.in_progress()

    async def _hand_back(self, messages: Sequence[Msg]) -> None:
        for msg in messages:
            with contextlib.suppress(Exception):
                await msg.nak()

    # -- one delivery -------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        return self._backoff_s[min(attempt, len(self._backoff_s)) - 1]

    async def _handle(self, msg: Msg) -> None:
        attempt = msg.metadata.num_delivered
        event_type = msg.subject.rsplit(".", 1)[-1]
        if attempt > 1:
            metrics.REDELIVERED.labels(self.name, event_type).inc()
        with self._tracer.start_as_current_span(
            f"process {msg.subject}",
            context=tr.extract(msg.headers),
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": "nats",
                "messaging.operation.type": "process",
                "messaging.destination.name": msg.subject,
                "messaging.consumer.group.name": self.name,
                "messaging.message.delivery_count": attempt,
            },
        ) as span:
            try:
                await self._deliver(msg, attempt, event_type, span)
            except Exception:
                # Infrastructure trouble (claim store, acks): JetStream redelivers.
                log.exception("consumer %s: delivery of %s failed", self.name, msg.subject)
                span.set_status(Status(StatusCode.ERROR))
                with contextlib.suppress(Exception):
                    await msg.nak(delay=self._backoff(attempt))

    async def _deliver(self, msg: Msg, attempt: int, event_type: str, span: trace.Span) -> None:
        subscription = self._subscriptions.get(msg.subject)
        if subscription is None:
            await self._dead_letter(msg, attempt, None, "no handler subscribed for this subject")
            return
        try:
            event = subscription.spec.parse(msg.data)
        except ValueError as exc:
            await self._dead_letter(msg, attempt, None, f"invalid event: {exc}")
            return
        span.set_attribute("messaging.message.id", event.id)
        lease_s = self.ack_wait_s * LEASE_FRACTION
        if self._processed is None:
            claim = Claim(ClaimOutcome.CLAIMED, token="")
        else:
            claim = await self._processed.claim(self.name, event.id, lease_s)
        if claim.outcome is ClaimOutcome.DONE:
            metrics.CONSUMED.labels(self.name, event_type, "duplicate").inc()
            await msg.ack()
            return
        if claim.outcome is ClaimOutcome.BUSY:
            await msg.nak(delay=max(claim.retry_after_s, 0.1))
            return
        assert claim.token is not None
        if attempt > self.max_deliver:
            # An earlier delivery ran out of time or died without dead-lettering.
            await self._release(event.id, claim.token)
            await self._dead_letter(
                msg, attempt, event.id, "delivery attempts exhausted (last attempt did not finish)"
            )
            return
        try:
            await self._run_handler(subscription, event, msg, claim, lease_s)
        except Exception as exc:
            metrics.CONSUMED.labels(self.name, event_type, "failed").inc()
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            await self._release(event.id, claim.token)
            if attempt >= self.max_deliver:
                await self._dead_letter(msg, attempt, event.id, f"{type(exc).__name__}: {exc}")
            else:
                log.warning(
                    "consumer %s: %s %s failed (attempt %d/%d): %r",
                    self.name,
                    event.type,
                    event.id,
                    attempt,
                    self.max_deliver,
                    exc,
                )
                await msg.nak(delay=self._backoff(attempt))
            return
        if self._processed is not None and not await self._processed.complete(
            self.name, event.id, claim.token
        ):
            log.warning("consumer %s: claim on %s was taken over mid-handler", self.name, event.id)
        await msg.ack()
        metrics.CONSUMED.labels(self.name, event_type, "handled").inc()

    async def _run_handler(
        self,
        subscription: Subscription,
        event: Event[Any],
        msg: Msg,
        claim: Claim,
        lease_s: float,
    ) -> None:
        assert claim.token is not None
        token = claim.token

        done = asyncio.Event()

        async def keep_alive() -> None:
            # Stopped by an event, not cancelled: a lease extension cut off mid-flight could
            # still land after "done" and, on FerretDB, undo it (read-modify-write updates).
            while not done.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.ack_wait_s / 4):
                        await done.wait()
                    return
                try:
                    await msg.in_progress()
                    if self._processed is not None:
                        await self._processed.extend(self.name, event.id, token, lease_s)
                except Exception as exc:
                    log.warning("consumer %s: keep-alive failed: %r", self.name, exc)

        heartbeat = asyncio.create_task(keep_alive())
        try:
            await subscription.handler(event)
        finally:
            done.set()
            await heartbeat

    async def _release(self, event_id: str, token: str) -> None:
        if self._processed is not None:
            await self._processed.release(self.name, event_id, token)

    # -- one batch ----------------------------------------------------------------------

    async def _handle_batch(self, messages: Sequence[Msg]) -> None:
        assert self._batch_handler is not None
        deliveries = [
            _Delivery(m, m.metadata.num_delivered, m.subject.rsplit(".", 1)[-1]) for m in messages
        ]
        contexts = [
            trace.get_current_span(tr.extract(m.headers)).get_span_context() for m in messages
        ]
        links = [trace.Link(c) for c in contexts if c.is_valid]
        with self._tracer.start_as_current_span(
            f"process batch {self.name}",
            kind=trace.SpanKind.CONSUMER,
            links=links,
            attributes={
                "messaging.system": "nats",
                "messaging.operation.type": "process",
                "messaging.consumer.group.name": self.name,
                "messaging.batch.message_count": len(messages),
            },
        ) as span:
            try:
                await self._deliver_batch(deliveries)
            except Exception:
                # Infrastructure trouble (claim store, acks): JetStream redelivers the
                # messages not answered yet.
                log.exception("consumer %s: a batch of %d failed", self.name, len(deliveries))
                span.set_status(Status(StatusCode.ERROR))
                for d in deliveries:
                    with contextlib.suppress(Exception):
                        await d.msg.nak(delay=self._backoff(d.attempt))

    async def _deliver_batch(self, deliveries: list[_Delivery]) -> None:
        for d in deliveries:
            if d.attempt > 1:
                metrics.REDELIVERED.labels(self.name, d.event_type).inc()
        lease_s = self.ack_wait_s * LEASE_FRACTION
        runnable = await self._claim_batch(await self._readable(deliveries), lease_s)
        for d in [d for d in runnable if d.attempt > self.max_deliver]:
            # An earlier delivery ran out of time or died without dead-lettering.
            await self._release(d.event_id, d.token)
            await self._dead_letter(
                d.msg,
                d.attempt,
                d.event_id,
                "delivery attempts exhausted (last attempt did not finish)",
            )
        runnable = [d for d in runnable if d.attempt <= self.max_deliver]
        if runnable:
            failed = await self._run_batch_handler(runnable, lease_s)
            await self._settle_batch(runnable, failed)

    async def _readable(self, deliveries: list[_Delivery]) -> list[_Delivery]:
        """Parse each message; dead-letter at once what no retry can fix."""
        readable: list[_Delivery] = []
        for d in deliveries:
            subscription = self._subscriptions.get(d.msg.subject)
            if subscription is None:
                await self._dead_letter(d.msg, d.attempt, None, "no handler subscribed")
                continue
            try:
                d.event = subscription.spec.parse(d.msg.data)
            except ValueError as exc:
                await self._dead_letter(d.msg, d.attempt, None, f"invalid event: {exc}")
                continue
            readable.append(d)
        return readable

    async def _claim_batch(self, deliveries: list[_Delivery], lease_s: float) -> list[_Delivery]:
        """Claim the batch's event ids; ack the done ones, hand back the busy ones."""
        if self._processed is None or not deliveries:
            return deliveries
        claims = await self._processed.claim_many(
            self.name, [d.event_id for d in deliveries], lease_s
        )
        claimed: list[_Delivery] = []
        seen: set[str] = set()
        for d in deliveries:
            claim = claims[d.event_id]
            if claim.outcome is ClaimOutcome.DONE:
                metrics.CONSUMED.labels(self.name, d.event_type, "duplicate").inc()
                await d.msg.ack()
            elif claim.outcome is ClaimOutcome.BUSY or d.event_id in seen:
                # held elsewhere, or a second copy of an event id in this batch
                await d.msg.nak(delay=max(claim.retry_after_s, 0.1))
            else:
                d.token = claim.token or ""
                seen.add(d.event_id)
                claimed.append(d)
        return claimed

    async def _settle_batch(
        self, deliveries: list[_Delivery], failed: Mapping[str, BaseException]
    ) -> None:
        """Mark done and ack what was applied; retry or dead-letter each failed event."""
        applied = [d for d in deliveries if d.event_id not in failed]
        if self._processed is not None and applied:
            taken = await self._processed.complete_many(
                self.name, {d.event_id: d.token for d in applied}
            )
            for event_id in sorted(taken):
                log.warning(
                    "consumer %s: claim on %s was taken over mid-batch", self.name, event_id
                )
        for d in applied:
            await d.msg.ack()
            metrics.CONSUMED.labels(self.name, d.event_type, "handled").inc()
        unapplied = [d for d in deliveries if d.event_id in failed]
        for d in unapplied:  # one write at a time (FerretDB's SQLite backend)
            await self._release(d.event_id, d.token)
        for d in unapplied:
            exc = failed[d.event_id]
            metrics.CONSUMED.labels(self.name, d.event_type, "failed").inc()
            if d.attempt >= self.max_deliver:
                reason = f"{type(exc).__name__}: {exc}"
                await self._dead_letter(d.msg, d.attempt, d.event_id, reason)
                continue
            await d.msg.nak(delay=self._backoff(d.attempt))
        retried = [d for d in unapplied if d.attempt < self.max_deliver]
        if retried:
            first = retried[0]
            log.warning(
                "consumer %s: %d of %d events of a batch failed and will be retried, e.g. "
                "%s %s (attempt %d/%d): %r",
                self.name,
                len(retried),
                len(deliveries),
                first.event_type,
                first.event_id,
                first.attempt,
                self.max_deliver,
                failed[first.event_id],
            )

    async def _run_batch_handler(
        self, deliveries: list[_Delivery], lease_s: float
    ) -> Mapping[str, BaseException]:
        """Run the batch handler with in-progress acks and lease extensions while it runs;
        returns the failed event ids (all of them when the handler raised)."""
        assert self._batch_handler is not None
        done = asyncio.Event()

        async def keep_alive() -> None:
            while not done.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.ack_wait_s / 4):
                        await done.wait()
                    return
                try:
                    await asyncio.gather(*(d.msg.in_progress() for d in deliveries))
                    if self._processed is not None:
                        for d in deliveries:  # one write at a time (FerretDB's SQLite)
                            await self._processed.extend(self.name, d.event_id, d.token, lease_s)
                except Exception as exc:
                    log.warning("consumer %s: keep-alive failed: %r", self.name, exc)

        events = [d.event for d in deliveries if d.event is not None]
        heartbeat = asyncio.create_task(keep_alive())
        try:
            result = await self._batch_handler(events)
        except Exception as exc:
            log.warning("consumer %s: batch of %d events failed: %r", self.name, len(events), exc)
            return {e.id: exc for e in events}
        finally:
            done.set()
            await heartbeat
        return dict(result.failed) if result is not None else {}

    async def _dead_letter(self, msg: Msg, attempt: int, event_id: str | None, reason: str) -> None:
        meta = msg.metadata
        headers = dead_letter_headers(
            original_headers=msg.headers,
            original_subject=msg.subject,
            original_stream=meta.stream,
            original_seq=meta.sequence.stream,
            consumer=self.name,
            error=reason,
            deliveries=attempt,
            event_id=event_id,
        )
        async with self._nats_guard():
            await resolve_js(self._js).publish(
                dlq_subject(self.name, msg.subject),
                msg.data,
                timeout=self._publish_timeout_s,
                headers=headers,
            )
        await msg.term()
        metrics.DEAD_LETTERED.labels(self.name, msg.subject.rsplit(".", 1)[-1]).inc()
        log.error(
            "consumer %s: dead-lettered %s (event %s) after %d deliveries: %s",
            self.name,
            msg.subject,
            event_id,
            attempt,
            reason,
        )
