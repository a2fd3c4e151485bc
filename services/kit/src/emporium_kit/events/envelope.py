"""The event envelope, typed event declarations and a service's event catalog.

An event on the bus is an :class:`Event`: a small envelope (sortable ULID id, type, schema
version, UTC timestamp, source service, aggregate id) around a ``data`` payload. Services
declare each event once as an :class:`EventSpec` (domain, type, Pydantic payload model,
version) and collect what they publish and consume in one :class:`EventCatalog`::

    events = EventCatalog("catalog")
    ProductCreated = events.publishes(EventSpec("catalog", "ProductCreated", ProductData))
    event = events.new(ProductCreated, ProductData(...), aggregate_id=product_id)

``EventSpec.parse`` turns wire bytes back into ``Event[ProductData]`` with ``data`` typed.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from ulid import ULID

SUBJECT_ROOT = "emporium"
DLQ_DOMAIN = "dlq"

DOMAIN_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
TYPE_PATTERN = re.compile(r"^[A-Z][A-Za-z0-9]{0,63}$")

DataT = TypeVar("DataT", bound=BaseModel | dict[str, Any])
PayloadT = TypeVar("PayloadT", bound=BaseModel)


def new_event_id() -> str:
    """A ULID: 26 Crockford base32 characters, lexicographically sortable by creation time."""
    return str(ULID())


def event_subject(domain: str, event_type: str) -> str:
    return f"{SUBJECT_ROOT}.{domain}.{event_type}"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel, Generic[DataT]):
    """The envelope every event travels in; ``Event[Payload]`` types ``data``.

    ``domain`` is part of the envelope because it names the subject and the stream; the
    publishing service (``source``) may publish more than one domain.
    """

    # Serialised events always carry every field, defaults included: say so in the schema.
    model_config = ConfigDict(
        frozen=True, extra="ignore", json_schema_serialization_defaults_required=True
    )

    id: str = Field(default_factory=new_event_id, min_length=26, max_length=26)
    domain: str = Field(pattern=DOMAIN_PATTERN.pattern)
    type: str = Field(pattern=TYPE_PATTERN.pattern)
    version: int = Field(default=1, ge=1)
    occurred_at: AwareDatetime = Field(default_factory=_utcnow)
    source: str = Field(min_length=1, max_length=64)
    aggregate_id: str = Field(min_length=1, max_length=256)
    data: DataT

    @field_validator("id")
    @classmethod
    def _valid_ulid(cls, value: str) -> str:
        ULID.from_str(value)  # raises ValueError on a malformed id
        return value

    @field_validator("occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @property
    def subject(self) -> str:
        """``emporium.<domain>.<type>``."""
        return event_subject(self.domain, self.type)

    def to_json(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))

    @classmethod
    def from_json(cls, raw: bytes | str) -> Event[Any]:
        """Parse an envelope without knowing its payload model (``data`` stays a dict)."""
        return Event[dict[str, Any]].model_validate(orjson.loads(raw))


@dataclass(frozen=True)
class EventSpec(Generic[PayloadT]):
    """The declaration of one event type: where it goes and what its payload looks like.

    ``version`` is the payload schema version stamped on new events; consumers validate the
    payload with their model whatever the version, so only additive changes keep a type.
    """

    domain: str
    type: str
    # builtins.type: inside this class body ``type`` names the field above
    payload: builtins.type[PayloadT]
    version: int = 1

    def __post_init__(self) -> None:
        if not DOMAIN_PATTERN.match(self.domain) or self.domain == DLQ_DOMAIN:
            raise ValueError(f"invalid event domain {self.domain!r}")
        if not TYPE_PATTERN.match(self.type):
            raise ValueError(f"invalid event type {self.type!r} (PascalCase, past tense)")
        if self.version < 1:
            raise ValueError("event version must be >= 1")

    @property
    def subject(self) -> str:
        return event_subject(self.domain, self.type)

    @cached_property
    def event_model(self) -> builtins.type[Event[PayloadT]]:
        # Event[...] with a payload known only at run time: the subscription mypy cannot read
        model = Event.__class_getitem__(self.payload)
        return cast("builtins.type[Event[PayloadT]]", model)

    def new(
        self,
        data: PayloadT,
        *,
        aggregate_id: str,
        source: str,
        occurred_at: datetime | None = None,
    ) -> Event[PayloadT]:
        if not isinstance(data, self.payload):
            raise TypeError(f"{self.type} expects {self.payload.__name__}, got {type(data)}")
        fields: dict[str, Any] = {}
        if occurred_at is not None:
            fields["occurred_at"] = occurred_at
        return self.event_model(
            domain=self.domain,
            type=self.type,
            version=self.version,
            source=source,
            aggregate_id=aggregate_id,
            data=data,
            **fields,
        )

    def parse(self, raw: bytes | str | dict[str, Any]) -> Event[PayloadT]:
        """Validate wire bytes (or a decoded dict) into a typed event of this spec."""
        value = raw if isinstance(raw, dict) else orjson.loads(raw)
        event = self.event_model.model_validate(value)
        if event.domain != self.domain or event.type != self.type:
            raise ValueError(f"expected {self.subject}, got {event.subject}")
        return event

    def json_schema(self) -> dict[str, Any]:
        """JSON Schema of the whole envelope with this payload (for contract tests)."""
        schema = self.event_model.model_json_schema(mode="serialization")
        schema["title"] = self.subject
        schema["x-event-version"] = self.version
        return schema


class EventCatalog:
    """One place per service listing the events it publishes and consumes."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._published: dict[str, EventSpec[Any]] = {}
        self._consumed: dict[str, EventSpec[Any]] = {}

    def publishes(self, spec: EventSpec[PayloadT]) -> EventSpec[PayloadT]:
        self._register(self._published, spec)
        return spec

    def consumes(self, spec: EventSpec[PayloadT]) -> EventSpec[PayloadT]:
        self._register(self._consumed, spec)
        return spec

    @staticmethod
    def _register(registry: dict[str, EventSpec[Any]], spec: EventSpec[Any]) -> None:
        existing = registry.get(spec.subject)
        if existing is not None and existing != spec:
            raise ValueError(f"{spec.subject} declared twice with different specs")
        registry[spec.subject] = spec

    @property
    def published(self) -> tuple[EventSpec[Any], ...]:
        return tuple(self._published.values())

    @property
    def consumed(self) -> tuple[EventSpec[Any], ...]:
        return tuple(self._consumed.values())

    @property
    def domains(self) -> tuple[str, ...]:
        """Every domain this service touches: the streams it needs (see ``ensure_streams``)."""
        specs: Iterable[EventSpec[Any]] = (*self.published, *self.consumed)
        return tuple(sorted({spec.domain for spec in specs}))

    def new(
        self,
        spec: EventSpec[PayloadT],
        data: PayloadT,
        *,
        aggregate_id: str,
        occurred_at: datetime | None = None,
    ) -> Event[PayloadT]:
        """A new event of a declared published type, stamped with this service as source."""
        if self._published.get(spec.subject) != spec:
            raise LookupError(f"{self.service} does not declare publishing {spec.subject}")
        return spec.new(
            data, aggregate_id=aggregate_id, source=self.service, occurred_at=occurred_at
        )

    def json_schemas(self) -> dict[str, dict[str, dict[str, Any]]]:
        """``{"publishes": {subject: schema}, "consumes": {subject: schema}}``."""
        return {
            "publishes": {s.subject: s.json_schema() for s in self.published},
            "consumes": {s.subject: s.json_schema() for s in self.consumed},
        }

    def write_json_schemas(self, directory: Path) -> list[Path]:
        """Write ``<directory>/<service>/<publishes|consumes>/<subject>.json``; returns paths."""
        written: list[Path] = []
        for role, schemas in self.json_schemas().items():
            folder = directory / self.service / role
            folder.mkdir(parents=True, exist_ok=True)
            for subject, schema in schemas.items():
                path = folder / f"{subject}.json"
                path.write_bytes(orjson.dumps(schema, option=orjson.OPT_INDENT_2))
                written.append(path)
        return written


def incompatibilities(published: EventSpec[Any], consumed: EventSpec[Any]) -> list[str]:
    """Why a consumer's view of an event cannot read what the publisher sends (empty: fine).

    The consumer is a tolerant reader: it may ignore fields, but every field it requires must
    be required by the publisher with the same JSON type.
    """
    if published.subject != consumed.subject:
        return [f"subject {consumed.subject} != {published.subject}"]
    problems: list[str] = []
    if consumed.version > published.version:
        problems.append(f"consumer expects v{consumed.version}, publisher is v{published.version}")
    pub = published.payload.model_json_schema(mode="serialization")
    con = consumed.payload.model_json_schema(mode="validation")
    pub_props: dict[str, Any] = pub.get("properties", {})
    pub_required = set(pub.get("required", ()))
    for name in con.get("required", ()):
        if name not in pub_props:
            problems.append(f"{name}: required by the consumer, not published")
            continue
        if name not in pub_required:
            problems.append(f"{name}: required by the consumer, optional for the publisher")
        want = con.get("properties", {}).get(name, {}).get("type")
        have = pub_props[name].get("type")
        if want and have and want != have:
            problems.append(f"{name}: consumer expects {want}, publisher sends {have}")
    return problems
