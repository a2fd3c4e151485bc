"""``emporium-search serve``: the kit's shared command runs the real service process."""

from __future__ import annotations

import sys
from typing import Any

import httpx
import pytest
from emporium_platform.processes import ServiceProcess, free_port

pytestmark = pytest.mark.integration


def test_serve_runs_the_service_until_sigterm(platform: Any, session_id: str) -> None:
    port = free_port()
    env = {
        "EMPORIUM_OPENSEARCH_URL": platform.opensearch_url,
        "EMPORIUM_SEARCH_INDEX_ALIAS": f"products_t{session_id}",
        "EMPORIUM_SEARCH_INDEXING_ENABLED": "false",
        "EMPORIUM_SHUTDOWN_GRACE_S": "0",
        "EMPORIUM_LOG_LEVEL": "INFO",
    }
    command = [sys.executable, "-m", "emporium_search.cli", "serve", "--port", str(port)]
    process = ServiceProcess("search-cli", command, port=port, env=env, ready_path="/livez")
    with process:
        answer = httpx.post(process.graphql_url, json={"query": "{ __typename }"}, timeout=10)
        assert answer.json() == {"data": {"__typename": "Query"}}
    assert not process.running()
    assert "service stopped" in process.log_text()
