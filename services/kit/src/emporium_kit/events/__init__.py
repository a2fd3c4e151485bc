"""The Emporium event bus on NATS JetStream (see docs/events.md).

Envelope and declarations (:mod:`.envelope`), streams (:mod:`.streams`), publishing
(:mod:`.publisher`), the single-document outbox and its relay (:mod:`.outbox`), durable
idempotent consumers (:mod:`.consumer`, :mod:`.processed`) and dead letters (:mod:`.dlq`,
``emporium-events dlq ...``). The workers that run them inside a service, and the outbox
drain of its command-line tools, are in :mod:`emporium_kit.workers`.
"""

from emporium_kit.events.consumer import (
    BatchHandler,
    BatchResult,
    Deliver,
    EventConsumer,
    Handler,
    Subscription,
)
from emporium_kit.events.dlq import (
    DeadLetter,
    discard_dead_letters,
    dlq_subject,
    list_dead_letters,
    replay_dead_letters,
)
from emporium_kit.events.envelope import (
    Event,
    EventCatalog,
    EventSpec,
    event_subject,
    incompatibilities,
    new_event_id,
)
from emporium_kit.events.outbox import (
    OUTBOX_FIELD,
    OutboxRelay,
    ensure_outbox_index,
    with_events,
    with_outbox,
)
from emporium_kit.events.processed import ProcessedEvents
from emporium_kit.events.publisher import EventPublisher
from emporium_kit.events.streams import (
    DLQ_STREAM,
    StreamConfigError,
    StreamPlan,
    ensure_streams,
    plan_stream,
    stream_name,
)

__all__ = [
    "DLQ_STREAM",
    "OUTBOX_FIELD",
    "BatchHandler",
    "BatchResult",
    "DeadLetter",
    "Deliver",
    "Event",
    "EventCatalog",
    "EventConsumer",
    "EventPublisher",
    "EventSpec",
    "Handler",
    "OutboxRelay",
    "ProcessedEvents",
    "StreamConfigError",
    "StreamPlan",
    "Subscription",
    "discard_dead_letters",
    "dlq_subject",
    "ensure_outbox_index",
    "ensure_streams",
    "event_subject",
    "incompatibilities",
    "list_dead_letters",
    "new_event_id",
    "plan_stream",
    "replay_dead_letters",
    "stream_name",
    "with_events",
    "with_outbox",
]
