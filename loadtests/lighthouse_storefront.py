"""Lighthouse on the storefront's home, search, product and (empty) cart pages: the
production build served by its static server, the real gateway and services behind it,
headless Chromium (Debian's).

Starts its own demo shop (emporium_platform.shop: the test harness's services on free
loopback ports, the demo data loaded) on the test platform's infrastructure
(``.platform-test/``, the ports of ``EMPORIUM_TEST_SLOT``), so a developer's running shop is
never touched; runs
``services/storefront/scripts/lighthouse.mjs`` against it (mobile: Lighthouse's default
emulated phone on slow 4G with a 4x slower CPU; desktop) and prints Markdown for
docs/performance.md. Run:

    uv run python loadtests/lighthouse_storefront.py [--runs 3]

Each page's median run (by performance score) is reported; the full reports are left in
services/storefront/.lighthouse/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess

from benchkit import machine
from emporium_platform.processes import storefront_dir
from emporium_platform.shop import shop_environment, test_platform_shop

# the quality bar of the home, search and product pages
PERFORMANCE_MIN = 90
LCP_MAX_MS = 2500


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per page and form factor")
    args = parser.parse_args()
    directory = storefront_dir()
    with test_platform_shop() as shop:
        subprocess.run(
            ["node", "scripts/lighthouse.mjs", "--runs", str(args.runs)],
            cwd=directory,
            env={**os.environ, **shop_environment(shop)},
            check=True,
        )
    rows = json.loads((directory / ".lighthouse" / "summary.json").read_text())
    print(f"\n## Storefront Lighthouse — {dt.date.today().isoformat()}\n")
    print(f"Machine: {machine()}; Lighthouse median of {args.runs} runs per page.\n")
    print("| page | form factor | performance | LCP ms | FCP ms | TBT ms | CLS | accessibility |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        passed = row["performance"] >= PERFORMANCE_MIN and row["lcpMs"] <= LCP_MAX_MS
        print(
            f"| {row['page']} | {row['formFactor']} | {row['performance']} | {row['lcpMs']:,} "
            f"| {row['fcpMs']:,} | {row['tbtMs']:,} | {row['cls']} | {row['accessibility']} |"
            + ("" if passed else " ✗")
        )


if __name__ == "__main__":
    main()
