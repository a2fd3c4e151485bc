"""A process of guarded writers for the cross-process tests of ``emporium_kit.documents``.

``python documents_worker.py '<json>'`` runs ``writers`` coroutines spread over ``clients``
independent Mongo clients (each with its own ``Leases`` and ``Documents``); each writer takes
one unit of ``stock`` from the document ``doc_id`` ``ops`` times through
``Documents.update``, pushing its operation id into ``applied`` in the same write. A refused
attempt (lease busy or expired) is retried until ``deadline_s``. The last line of output is
JSON: the acknowledged operation ids and the refusals seen.

With ``"crash": true`` it instead takes the document's lease and dies (``os._exit``) while
holding it, as a crashed holder would; it prints ``held`` first.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections import Counter
from typing import Any

import orjson
from emporium_kit.documents import Collection, Documents, LeaseConfig, Leases
from emporium_kit.errors import Conflict
from pymongo import AsyncMongoClient


def _documents(client: AsyncMongoClient[dict[str, Any]], spec: dict[str, Any]) -> Documents:
    db = client[spec["database"]]
    config = LeaseConfig(ttl_s=spec["ttl_s"], margin_s=spec["margin_s"], wait_s=spec["wait_s"])
    leases = Leases(Collection(db["locks"]), config)
    return Documents(db[spec["collection"]], leases=leases, noun="item")


def take_one(op_id: str) -> Any:
    def change(current: dict[str, Any]) -> Any:
        if current["stock"] < 1:
            raise Conflict("OUT_OF_STOCK", "nothing left")
        return {"$inc": {"stock": -1}, "$push": {"applied": op_id}}, []

    return change


async def _writer(
    docs: Documents, spec: dict[str, Any], name: str, acked: list[str], refusals: Counter[str]
) -> None:
    deadline = time.monotonic() + spec["deadline_s"]
    for n in range(spec["ops"]):
        op_id = f"{name}-{n}"
        while True:
            try:
                await docs.update(spec["doc_id"], take_one(op_id))
            except Conflict as exc:
                refusals[exc.code] += 1
                if time.monotonic() > deadline:
                    raise
                continue
            acked.append(op_id)
            break


async def _write(spec: dict[str, Any]) -> dict[str, Any]:
    clients = [
        AsyncMongoClient(spec["mongo_url"], tz_aware=True, maxPoolSize=spec.get("pool", 10))
        for _ in range(spec["clients"])
    ]
    acked: list[str] = []
    refusals: Counter[str] = Counter()
    try:
        documents = [_documents(client, spec) for client in clients]
        await asyncio.gather(
            *(
                _writer(
                    documents[n % len(documents)],
                    spec,
                    f"{spec['name']}.{n}",
                    acked,
                    refusals,
                )
                for n in range(spec["writers"])
            )
        )
    finally:
        for client in clients:
            await client.close()
    return {"acked": acked, "refusals": dict(refusals)}


async def _crash(spec: dict[str, Any]) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(spec["mongo_url"], tz_aware=True)
    docs = _documents(client, spec)
    async with docs.lock(spec["doc_id"]):
        print("held", flush=True)
        os._exit(0)


def main() -> None:
    spec = orjson.loads(sys.argv[1])
    if spec.get("crash"):
        asyncio.run(_crash(spec))
        return
    result = asyncio.run(_write(spec))
    print(orjson.dumps(result).decode(), flush=True)


if __name__ == "__main__":
    main()
