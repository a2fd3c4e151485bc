"""Each service SIGKILLed right after an order is placed — with its write done and its
events possibly not yet published, or its handler mid-way — then restarted: the saga still
completes with one capture, one stock commit and one email."""

from __future__ import annotations

import os
import signal

import pytest
from emporium_platform.harness import GraphQLClient, Stack
from pymongo import MongoClient
from ulid import ULID

from .conftest import Shop, data, stock, wait_for
from .test_checkout import buy, mails_to, settled

pytestmark = pytest.mark.workflow


@pytest.mark.parametrize("victim", ["order", "payment", "inventory", "notification"])
def test_the_saga_survives_a_killed_service(
    gateway: GraphQLClient, shop: Shop, stack: Stack, buyer: str, victim: str
) -> None:
    platform = stack.platform
    shop.restock(gateway, 3)
    to = f"buyer-{str(ULID()).lower()}@example.test"
    placed = data(buy(gateway, buyer, shop, 1, email=to))["placeOrder"]
    process = stack[victim]
    pid = process.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not process.running())
    process.start(timeout=120)

    done = settled(gateway, buyer, placed["id"], "CONFIRMED")
    assert done["orderPayment"]["status"] == "CAPTURED"
    wait_for(lambda: stock(gateway, shop.sku) == {"onHand": 2, "reserved": 0, "available": 2})
    with MongoClient(platform.mongo_url) as client:
        payment = client[stack.database("payment")]["payments"].find_one({"_id": placed["id"]})
    assert [h["status"] for h in payment["history"]].count("CAPTURED") == 1
    [mail] = wait_for(lambda: mails_to(platform, to))
    assert mail["Subject"] == "Your order is confirmed"
