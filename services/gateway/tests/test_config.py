"""The gateway sources type-check against Hive Gateway's types and are formatted; a bad
setting stops the gateway at start with a message naming it, never a half-configured one."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from emporium_platform.processes import ensure_gateway_installed, gateway_process, node_binary

pytestmark = pytest.mark.contract


@pytest.mark.parametrize(
    "tool",
    [
        ("typescript/bin/tsc", "-p", "tsconfig.json"),
        ("prettier/bin/prettier.cjs", "--check", "."),
    ],
    ids=["typecheck", "format"],
)
def test_gateway_sources_typecheck_and_are_formatted(tool: tuple[str, ...]) -> None:
    gateway_dir = ensure_gateway_installed()
    script, *args = tool
    result = subprocess.run(
        [str(node_binary()), str(gateway_dir / "node_modules" / script), *args],
        cwd=gateway_dir,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"EMPORIUM_ENVIRONMENT": "production"},
            "EMPORIUM_JWKS_URL is required in production",
        ),
        (
            {"EMPORIUM_GRAPHQL_MAX_DEPTH": "deep"},
            "EMPORIUM_GRAPHQL_MAX_DEPTH=deep: expected an integer in 1..100",
        ),
        (
            {"EMPORIUM_SUPERGRAPH_POLL_MS": "1000"},
            "EMPORIUM_SUPERGRAPH_POLL_MS=1000: expected an integer in 10000..3600000",
        ),
        (
            {"EMPORIUM_ENVIRONMENT": "staging"},
            "EMPORIUM_ENVIRONMENT=staging: expected development or production",
        ),
    ],
)
def test_invalid_settings_stop_the_gateway_at_start(
    env: dict[str, str], message: str, tmp_path: Path
) -> None:
    process = gateway_process(env=env, log_dir=tmp_path)
    with pytest.raises(RuntimeError, match="exited with") as failure:
        process.start(timeout=60)
    assert message in str(failure.value)
