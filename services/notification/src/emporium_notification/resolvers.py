"""GraphQL resolvers: admins look up what was sent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ariadne import ObjectType, QueryType, ScalarType
from emporium_kit.auth import require_roles
from emporium_kit.context import RequestContext
from graphql import GraphQLResolveInfo

from emporium_notification.store import NotificationDb


@dataclass(frozen=True, slots=True)
class NotificationContext(RequestContext):
    db: NotificationDb


def request_context(db: NotificationDb) -> Callable[[Any], NotificationContext]:
    def build(_request: Any) -> NotificationContext:
        return NotificationContext(db=db)

    return build


query = QueryType()
notification_type = ObjectType("EmailNotification")
datetime_scalar = ScalarType("DateTime", serializer=lambda value: value.isoformat())


@query.field("emailNotifications")
async def resolve_notifications(
    _: Any, info: GraphQLResolveInfo, subject_id: str
) -> list[dict[str, Any]]:
    require_roles(info, "admin")
    db = NotificationContext.of(info).db
    return await db.notifications.find(
        {"subject_id": subject_id}, {"outbox": 0}, sort=[("created_at", -1)], limit=100
    )


@notification_type.field("id")
def resolve_id(doc: dict[str, Any], _info: GraphQLResolveInfo) -> str:
    return str(doc["_id"])


bindables = [query, notification_type, datetime_scalar]
