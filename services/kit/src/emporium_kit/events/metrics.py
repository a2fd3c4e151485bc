"""Prometheus metrics of the event bus (default registry, exposed by the app's /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PUBLISHED = Counter(
    "emporium_events_published_total",
    "Events stored by JetStream (first copy; duplicates are counted separately).",
    ["event_type"],
)
PUBLISH_DUPLICATES = Counter(
    "emporium_events_publish_duplicates_total",
    "Publishes JetStream dropped as duplicates of an event id inside the duplicate window.",
    ["event_type"],
)
CONSUMED = Counter(
    "emporium_events_consumed_total",
    "Deliveries handled by a consumer, by outcome (handled, duplicate, failed).",
    ["consumer", "event_type", "outcome"],
)
REDELIVERED = Counter(
    "emporium_events_redelivered_total",
    "Deliveries that were not the first delivery of their message.",
    ["consumer", "event_type"],
)
DEAD_LETTERED = Counter(
    "emporium_events_dead_lettered_total",
    "Messages moved to the dead-letter stream.",
    ["consumer", "event_type"],
)
REPLAYED = Counter(
    "emporium_events_replayed_total",
    "Dead letters republished to their original subject.",
    ["consumer"],
)
RELAY_LAG = Gauge(
    "emporium_events_relay_lag_seconds",
    "Age of the oldest outbox entry still pending after the relay's last pass.",
    ["collection"],
)
RELAY_PENDING = Gauge(
    "emporium_events_relay_pending",
    "Outbox entries seen pending by the relay's last pass.",
    ["collection"],
)
RELAY_DELAY = Histogram(
    "emporium_events_relay_delay_seconds",
    "Time from an event's occurred_at to its publish being acknowledged by JetStream.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
