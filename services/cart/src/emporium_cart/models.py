"""Cart documents and the Pydantic models around them.

Storage shape (collection ``items``)::

    {_id, name, version, created_at, updated_at, outbox: [...pending events...]}

``*Create``/``*Rename`` models bound every input; ``ItemRead`` is what resolvers and events see.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)
]
Id = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class ItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name


class ItemRename(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Id
    name: Name
    expected_version: int | None = Field(default=None, ge=1)


class ItemRead(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> ItemRead:
        return cls(
            id=doc["_id"],
            name=doc["name"],
            version=doc["version"],
            created_at=doc["created_at"],
            updated_at=doc["updated_at"],
        )
