"""``/livez`` and ``/readyz``.

- ``GET /livez``: 200 ``{"status": "alive"}`` while the event loop answers; no dependency
  is consulted (a down database must not get the pod restarted).
- ``GET /readyz``: probes every dependency through its breaker (see
  :meth:`emporium_kit.resilience.Dependencies.ready`); 200 ``{"status": "ready", "checks":
  {...}}`` when every critical dependency answered, else 503 ``{"status": "unavailable",
  ...}``. Once :meth:`Health.begin_shutdown` ran it answers 503 ``{"status":
  "shutting_down"}`` so the load balancer stops sending traffic before the app drains.
"""

from __future__ import annotations

from fastapi import APIRouter

from emporium_kit.metrics import BREAKER_OPEN, DEPENDENCY_UP
from emporium_kit.resilience import Dependencies
from emporium_kit.responses import OrjsonResponse


class Health:
    """Holds the dependency registry and the shutting-down flag; ``.router`` has the routes."""

    def __init__(self, dependencies: Dependencies) -> None:
        self.dependencies = dependencies
        self.shutting_down = False
        self.router = APIRouter(tags=["health"])
        self.router.add_api_route("/livez", self.livez, methods=["GET"])
        self.router.add_api_route("/readyz", self.readyz, methods=["GET"])

    def begin_shutdown(self) -> None:
        self.shutting_down = True

    async def livez(self) -> OrjsonResponse:
        return OrjsonResponse({"status": "alive"})

    async def readyz(self) -> OrjsonResponse:
        if self.shutting_down:
            return OrjsonResponse({"status": "shutting_down", "checks": {}}, status_code=503)
        readiness = await self.dependencies.ready()
        for name, state in readiness.checks.items():
            DEPENDENCY_UP.labels(name).set(1 if state.ok else 0)
            BREAKER_OPEN.labels(name).set(1 if state.breaker == "open" else 0)
        return OrjsonResponse(readiness.as_dict(), status_code=200 if readiness.ready else 503)
