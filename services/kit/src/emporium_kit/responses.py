"""``OrjsonResponse``: a Starlette JSON response serialised with orjson.

FastAPI's own ``ORJSONResponse`` is deprecated; this one is used by the GraphQL handler and
health routes, and services may return it from plain routes.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class OrjsonResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)
