"""Typed access to the GraphQL request context.

:func:`emporium_kit.app.build_app` builds a context for every request: the kit's own entries
(the HTTP request, the settings, the caller read by :mod:`emporium_kit.auth`) and the
service's :class:`RequestContext`, which the service's ``context`` factory builds from its
long-lived parts and fresh per-request loaders. Resolvers read it with ``<Class>.of(info)``,
typed, instead of indexing ``info.context``::

    @dataclass(frozen=True, slots=True)
    class CatalogContext(RequestContext):
        db: CatalogDb
        products: Loader[str, ProductRead]

    build_app(..., context=lambda request: CatalogContext(db=db, products=keyed_loader(...)))

    async def resolve_product(_: Any, info: GraphQLResolveInfo, id: str) -> ProductRead | None:
        return await CatalogContext.of(info).products.load(id)
"""

from __future__ import annotations

from typing import Self

from graphql import GraphQLResolveInfo
from starlette.requests import Request

SERVICE_KEY = "service"
REQUEST_KEY = "request"
SETTINGS_KEY = "settings"


class RequestContext:
    """Base of a service's per-request context; subclass it as a (frozen) dataclass."""

    __slots__ = ()

    @classmethod
    def of(cls, info: GraphQLResolveInfo) -> Self:
        """The service context of the request ``info`` belongs to."""
        value = info.context.get(SERVICE_KEY)
        if not isinstance(value, cls):
            raise TypeError(
                f"the request context holds {type(value).__name__}, not {cls.__name__}:"
                " build_app(context=...) must return it"
            )
        return value


def request_of(info: GraphQLResolveInfo) -> Request:
    """The HTTP request being answered (headers, client address)."""
    request: Request = info.context[REQUEST_KEY]
    return request
