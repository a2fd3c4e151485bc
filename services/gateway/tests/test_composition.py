"""Schema contract: the subgraphs' SDL composes into the committed supergraph, and every
persisted operation is valid against it. A failing composition fails CI here."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from emporium_platform.processes import ensure_gateway_installed, node_binary

pytestmark = pytest.mark.contract

CONFLICTING_A = """
extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
type Product @key(fields: "id") { id: ID! price: Int! }
type Query { cheapest: Product }
"""
CONFLICTING_B = """
extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
type Product @key(fields: "id") { id: ID! price: String! }
type Query { newest: Product }
"""


@pytest.fixture(scope="module")
def gateway_dir() -> Path:
    return ensure_gateway_installed()


def run_script(gateway_dir: Path, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(node_binary()), str(gateway_dir / script), *args],
        cwd=gateway_dir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_committed_supergraph_is_the_composition_of_the_subgraphs(
    gateway_dir: Path, tmp_path: Path
) -> None:
    fresh = tmp_path / "supergraph.graphql"
    result = run_script(gateway_dir, "compose.mjs", "--out", str(fresh))
    assert result.returncode == 0, result.stderr
    committed = (gateway_dir / "supergraph.graphql").read_text()
    assert fresh.read_text() == committed, "supergraph.graphql is stale: run `npm run compose`"
    config = json.loads((gateway_dir / "subgraphs.json").read_text())
    for subgraph in config["subgraphs"]:
        assert f'@join__graph(name: "{subgraph["name"]}", url: "{subgraph["url"]}")' in committed


def test_check_mode_accepts_the_committed_files(gateway_dir: Path) -> None:
    compose = run_script(gateway_dir, "compose.mjs", "--check")
    assert compose.returncode == 0, compose.stderr
    persisted = run_script(gateway_dir, "persisted.mjs", "--check")
    assert persisted.returncode == 0, persisted.stderr


def test_check_mode_reports_a_stale_supergraph(gateway_dir: Path, tmp_path: Path) -> None:
    stale = tmp_path / "supergraph.graphql"
    stale.write_text((gateway_dir / "supergraph.graphql").read_text() + "# edited by hand\n")
    result = run_script(gateway_dir, "compose.mjs", "--check", "--out", str(stale))
    assert result.returncode == 1
    assert "out of date" in result.stderr
    assert "npm run compose" in result.stderr


def test_conflicting_subgraphs_fail_with_every_error_named(tmp_path: Path) -> None:
    (tmp_path / "a.graphql").write_text(CONFLICTING_A)
    (tmp_path / "b.graphql").write_text(CONFLICTING_B)
    config = tmp_path / "subgraphs.json"
    config.write_text(
        json.dumps(
            {
                "subgraphs": [
                    {"name": "alpha", "schema": "a.graphql", "url": "http://alpha/graphql"},
                    {"name": "beta", "schema": "b.graphql", "url": "http://beta/graphql"},
                ]
            }
        )
    )
    out = tmp_path / "supergraph.graphql"
    result = run_script(
        ensure_gateway_installed(), "compose.mjs", "--config", str(config), "--out", str(out)
    )
    assert result.returncode == 1
    assert "Supergraph composition FAILED" in result.stderr
    assert "[FIELD_TYPE_MISMATCH]" in result.stderr
    assert '"Product.price"' in result.stderr
    assert '"alpha"' in result.stderr
    assert '"beta"' in result.stderr
    assert not out.exists(), "a failed composition must not write a supergraph"


def test_syntax_errors_and_missing_sdl_are_reported_per_subgraph(tmp_path: Path) -> None:
    (tmp_path / "broken.graphql").write_text("type Query {\n  oops: \n}\n")
    config = tmp_path / "subgraphs.json"
    config.write_text(
        json.dumps(
            {
                "subgraphs": [
                    {"name": "broken", "schema": "broken.graphql", "url": "http://b/graphql"},
                    {"name": "absent", "schema": "nowhere/*.graphql", "url": "http://a/graphql"},
                ]
            }
        )
    )
    result = run_script(
        ensure_gateway_installed(),
        "compose.mjs",
        "--config",
        str(config),
        "--out",
        str(tmp_path / "s"),
    )
    assert result.returncode == 1
    assert "[broken]" in result.stderr
    assert "broken.graphql:3:1" in result.stderr
    assert "[absent] no SDL file matches nowhere/*.graphql" in result.stderr


def client_manifests(gateway_dir: Path) -> dict[str, dict[str, str]]:
    """Each client app's own manifest (`{id: body}`), by client name."""
    config = json.loads((gateway_dir / "persisted-clients.json").read_text())
    return {
        client["name"]: json.loads((gateway_dir / client["manifest"]).read_text())
        for client in config["clients"]
    }


def test_persisted_manifest_ids_are_sha256_of_the_bodies(gateway_dir: Path) -> None:
    manifest = json.loads((gateway_dir / "persisted-operations.json").read_text())
    assert manifest["format"] == "apollo-persisted-query-manifest"
    names = {path.stem for path in (gateway_dir / "operations").glob("*.graphql")}
    assert names <= {op["name"] for op in manifest["operations"]}
    for operation in manifest["operations"]:
        assert operation["id"] == hashlib.sha256(operation["body"].encode()).hexdigest()


def test_every_client_document_is_persisted_under_the_id_the_client_sends(
    gateway_dir: Path,
) -> None:
    persisted = {
        op["id"]: op["body"]
        for op in json.loads((gateway_dir / "persisted-operations.json").read_text())["operations"]
    }
    clients = client_manifests(gateway_dir)
    assert "storefront" in clients
    for documents in clients.values():
        assert documents, "a listed client has no documents"
        for document_id, body in documents.items():
            assert persisted.get(document_id) == body


def run_persisted_with_client(
    gateway_dir: Path, tmp_path: Path, documents: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """persisted.mjs with the committed operations and one client whose manifest is given."""
    (tmp_path / "client.json").write_text(json.dumps(documents))
    clients = tmp_path / "clients.json"
    clients.write_text(json.dumps({"clients": [{"name": "shop", "manifest": "client.json"}]}))
    out = tmp_path / "manifest.json"
    result = run_script(gateway_dir, "persisted.mjs", "--clients", str(clients), "--out", str(out))
    return result, out


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_a_client_manifest_is_merged_into_the_manifest(gateway_dir: Path, tmp_path: Path) -> None:
    body = "query ShopCategories { rootCategories { id name } }"
    result, out = run_persisted_with_client(gateway_dir, tmp_path, {sha256_hex(body): body})
    assert result.returncode == 0, result.stderr
    operations = {op["name"]: op for op in json.loads(out.read_text())["operations"]}
    assert operations["ShopCategories"] == {
        "id": sha256_hex(body),
        "name": "ShopCategories",
        "type": "query",
        "body": body,
    }
    assert "Login" in operations


@pytest.mark.parametrize(
    ("documents", "problem"),
    [
        pytest.param(
            {"0" * 64: "query ShopX { rootCategories { id } }"},
            "the id is not the sha256 of the document",
            id="wrong-id",
        ),
        pytest.param(
            {sha256_hex(q): q for q in ["query ShopY { rootCategories { nope } }"]},
            'Cannot query field "nope" on type "Category"',
            id="invalid-against-the-schema",
        ),
        pytest.param(
            {sha256_hex(q): q for q in ["query Login { rootCategories { id } }"]},
            "operation name Login is used twice",
            id="name-taken",
        ),
        pytest.param(
            {sha256_hex(q): q for q in ["{ rootCategories { id } }"]},
            "must hold exactly one named operation",
            id="anonymous",
        ),
    ],
)
def test_a_bad_client_document_fails_the_manifest(
    gateway_dir: Path, tmp_path: Path, documents: dict[str, str], problem: str
) -> None:
    result, out = run_persisted_with_client(gateway_dir, tmp_path, documents)
    assert result.returncode == 1
    assert problem in result.stderr
    assert "shop" in result.stderr
    assert not out.exists()


def test_check_mode_reports_a_client_document_missing_from_the_manifest(
    gateway_dir: Path, tmp_path: Path
) -> None:
    body = "query ShopNew { sellers { id } }"
    (tmp_path / "client.json").write_text(json.dumps({sha256_hex(body): body}))
    clients = tmp_path / "clients.json"
    clients.write_text(json.dumps({"clients": [{"name": "shop", "manifest": "client.json"}]}))
    result = run_script(gateway_dir, "persisted.mjs", "--check", "--clients", str(clients))
    assert result.returncode == 1
    assert "out of date" in result.stderr
    assert "npm run persisted" in result.stderr


def test_an_operation_the_schema_does_not_allow_fails_the_manifest(
    gateway_dir: Path, tmp_path: Path
) -> None:
    operations = tmp_path / "operations"
    operations.mkdir()
    (operations / "Bad.graphql").write_text("query Bad { product(id: 1) { noSuchField } }\n")
    result = run_script(
        gateway_dir,
        "persisted.mjs",
        "--operations",
        str(operations / "*.graphql"),
        "--out",
        str(tmp_path / "manifest.json"),
    )
    assert result.returncode == 1
    assert "Bad.graphql" in result.stderr
    assert 'Cannot query field "noSuchField" on type "Product"' in result.stderr
    assert not (tmp_path / "manifest.json").exists()
