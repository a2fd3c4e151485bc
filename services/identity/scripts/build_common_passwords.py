"""Rebuild ``emporium_identity/data/common-passwords.txt.gz`` from a Django wheel.

Django ships the 20,000 most common passwords of Royce Williams' list (lower-cased,
deduplicated, most frequent first) as ``django/contrib/auth/common-passwords.txt.gz``. We ship
the same list in frequency order so no network is needed at run time::

    pip download django==5.2.19 --no-deps -d /tmp/django
    uv run python services/identity/scripts/build_common_passwords.py /tmp/django/django-*.whl
"""

from __future__ import annotations

import argparse
import gzip
import zipfile
from pathlib import Path

MEMBER = "django/contrib/auth/common-passwords.txt.gz"
TARGET = Path(__file__).parents[1] / "src/emporium_identity/data/common-passwords.txt.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("wheel", type=Path, help="a Django wheel (.whl)")
    parser.add_argument("--out", type=Path, default=TARGET)
    args = parser.parse_args()
    with zipfile.ZipFile(args.wheel) as wheel:
        lines = gzip.decompress(wheel.read(MEMBER)).decode("utf-8").splitlines()
    seen: dict[str, None] = {}
    for line in lines:
        word = line.strip().lower()
        if word:
            seen.setdefault(word)
    # mtime=0: the same input always gives the same bytes
    args.out.write_bytes(gzip.compress(("\n".join(seen) + "\n").encode(), mtime=0))
    print(f"wrote {len(seen)} passwords to {args.out}")


if __name__ == "__main__":
    main()
