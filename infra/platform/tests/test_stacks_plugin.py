"""When the pytest plugin closes a suite's stack: once the run leaves the directory of the
suite that opened it (the nearest one with a ``conftest.py``), not at the end of the session.

The hook is driven with the items of a laid-out tree; what it closes is a recorder, since the
decision (which stack, after which test) is what is under test. The suites themselves run
their stacks through this hook in every full run."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from emporium_platform.pytest_plugin import _SUITE_STACKS, _suite_of, pytest_runtest_teardown

pytestmark = pytest.mark.unit


class Closes:
    def __init__(self) -> None:
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


def _tree(root: Path) -> dict[str, Any]:
    """services/cart/tests (a suite with a sub-folder), services/tests/checkout (a suite),
    charts/tests/test_chart.py (no conftest: its folder is the suite)."""
    for folder in ("services/cart/tests/events", "services/tests/checkout", "charts/tests"):
        (root / folder).mkdir(parents=True)
    for suite in ("services/cart/tests", "services/tests/checkout"):
        (root / suite / "conftest.py").write_text("")
    config = SimpleNamespace(rootpath=root, stash=pytest.Stash())
    paths = {
        "cart": "services/cart/tests/test_cart.py",
        "cart-events": "services/cart/tests/events/test_events.py",
        "checkout": "services/tests/checkout/test_checkout.py",
        "chart": "charts/tests/test_chart.py",
    }
    return {name: SimpleNamespace(path=root / path, config=config) for name, path in paths.items()}


def test_a_suite_is_the_nearest_folder_with_a_conftest(tmp_path: Path) -> None:
    items = _tree(tmp_path)
    assert _suite_of(items["cart-events"]) == tmp_path / "services/cart/tests"
    assert _suite_of(items["checkout"]) == tmp_path / "services/tests/checkout"
    assert _suite_of(items["chart"]) == tmp_path / "charts/tests"


def test_a_stack_is_closed_after_its_suites_last_test_and_only_then(tmp_path: Path) -> None:
    items = _tree(tmp_path)
    cart, checkout = Closes(), Closes()
    # a stack is registered while its suite's first test sets up
    opened = items["cart"].config.stash.setdefault(_SUITE_STACKS, [])
    opened.append((_suite_of(items["cart"]), cart))

    def done(item: str, nextitem: str | None) -> None:
        pytest_runtest_teardown(items[item], items[nextitem] if nextitem else None)

    done("cart", "cart-events")  # still inside the cart suite (a sub-folder of it)
    assert (cart.closed, checkout.closed) == (0, 0)
    done("cart-events", "checkout")
    assert (cart.closed, checkout.closed) == (1, 0)
    opened.append((_suite_of(items["checkout"]), checkout))
    done("checkout", "chart")
    assert (cart.closed, checkout.closed) == (1, 1)
    done("chart", None)  # the session's end closes nothing twice
    assert (cart.closed, checkout.closed) == (1, 1)
    assert items["cart"].config.stash[_SUITE_STACKS] == []
