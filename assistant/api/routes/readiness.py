"""`GET /livez` (the process answers) and `GET /readyz` (this replica should get traffic).

Liveness and readiness are different questions: a replica whose vector store is down, or that is
still loading its model, is alive (restarting it would not help) but not ready (a load balancer
should send shoppers elsewhere). `/healthz` stays the detailed report for people.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from assistant.api.protocol import Readiness
from assistant.api.state import ApiState
from assistant.generation.base import engine_problem


def router(state: ApiState) -> APIRouter:
    api = APIRouter(tags=["operations"])
    shop, startup = state.shop, state.startup

    @api.get("/livez")
    def livez() -> dict[str, str]:
        """200 while the process serves requests; nothing else is checked."""
        return {"status": "alive"}

    @api.get("/readyz", response_model=Readiness)
    def readyz(response: Response) -> Readiness:
        """503 while start-up loading runs or the store cannot be read; 200 otherwise, with the model's
        state (a model that is down leaves the replica ready: replies close with template sentences)."""
        if not startup.done.is_set():
            response.status_code = 503
            return Readiness(status="loading", problems=["loading the search index and the model"])
        generator = shop.generator
        ready = Readiness(
            status="ready",
            problems=list(startup.problems),
            model_unavailable=engine_problem(generator),
            load_seconds=startup.seconds,
            generating=int(getattr(generator, "active", 0)),
            waiting=int(getattr(generator, "waiting", 0)),
        )
        status = getattr(generator, "endpoint_status", None)
        if callable(status):
            ready.model_servers = list(status())
        try:
            shop.index.products_collection.count()
        except Exception as exc:  # noqa: BLE001 - Chroma raises many types when its server is gone
            response.status_code = 503
            ready.status = "unavailable"
            ready.problems.append(f"the vector store cannot be read ({type(exc).__name__}: {str(exc)[:200]})")
        return ready

    return api
