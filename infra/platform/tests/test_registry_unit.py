"""The service registry: reading and validating the tables, what derives from them, and the
generated files of this checkout being current."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from emporium_platform import registry as reg
from emporium_platform.config import find_repo_root

pytestmark = pytest.mark.unit

ROOT_PYPROJECT = """\
[project]
name = "shop"
version = "0.1.0"
requires-python = "==3.11.*"
dependencies = [
    "emporium-kit",
    "rich>=13",
]

[tool.uv.workspace]
members = ["services/*"]
exclude = ["services/gateway"]

[tool.uv.sources]
emporium-kit = { workspace = true }
rich = { git = "https://example.invalid/rich" }

[tool.ruff]
line-length = 100
"""


class Checkout:
    """A throw-away checkout: a root pyproject, README markers and service folders."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "services" / "kit").mkdir(parents=True)
        (root / "services" / "kit" / "pyproject.toml").write_text(
            '[project]\nname = "emporium-kit"\nversion = "0"\n'
        )
        (root / "charts" / "emporium").mkdir(parents=True)
        (root / "pyproject.toml").write_text(ROOT_PYPROJECT)
        (root / "README.md").write_text(
            "# Shop\n\n" + reg.README_MARKERS[0] + "old\n" + reg.README_MARKERS[1] + "\nend\n"
        )

    def python(self, name: str, table: str, *, project: str | None = None) -> Path:
        folder = self.root / "services" / name
        schema = folder / "src" / f"emporium_{name}" / "schema"
        schema.mkdir(parents=True)
        (schema / f"{name}.graphql").write_text("type Query { hello: String }\n")
        project = project or (
            f'[project]\nname = "emporium-{name}"\nversion = "0"\n'
            f'description = "Emporium {name} service: {name} things"\n'
            f'[project.scripts]\nemporium-{name} = "emporium_{name}.cli:main"\n'
        )
        (folder / "pyproject.toml").write_text(
            f'{project}\n[tool.emporium.service]\nname = "{name}"\nkind = "subgraph"\n{table}\n'
        )
        return folder

    def gateway(self, **table: Any) -> Path:
        folder = self.root / "services" / "gateway"
        folder.mkdir(parents=True)
        service = {
            "name": "gateway",
            "kind": "gateway",
            "port": 4000,
            "metrics_port": 4001,
            "command": ["node", "{dir}/bin.js", "--port", "{port}"],
            **table,
        }
        package = {"name": "emporium-gateway", "emporium": {"service": service}}
        (folder / "package.json").write_text(json.dumps(package))
        return folder

    def load(self) -> reg.Registry:
        return reg.load(self.root)


@pytest.fixture
def checkout(tmp_path: Path) -> Checkout:
    shop = Checkout(tmp_path)
    shop.python("identity", 'port = 8101\ndatastores = ["mongo", "redis", "nats"]')
    shop.python(
        "catalog",
        'port = 8102\ndatastores = ["mongo", "nats"]\ncalls = ["identity"]\n'
        'env = { EMPORIUM_JWKS_URL = "{url[identity]}/.well-known/jwks.json" }',
    )
    shop.python("search", 'port = 8103\ndatastores = ["opensearch"]\ncalls = ["catalog"]')
    shop.gateway(datastores=["redis"])
    return shop


def problems_of(checkout: Checkout) -> str:
    with pytest.raises(reg.RegistryError) as caught:
        checkout.load()
    return "\n".join(caught.value.problems)


# ---- this checkout ------------------------------------------------------------------------------


def test_this_checkouts_services() -> None:
    """Every service with a table, in start order (callees first, then the gateway, then the
    shop); a workspace package without one (the kit) is no service."""
    registry = reg.load()
    names = [service.name for service in registry]
    assert set(names) == {"gateway", "identity", "catalog", "search", "cart", "storefront"}
    assert names.index("identity") < names.index("catalog") < names.index("search")
    assert names.index("catalog") < names.index("cart")
    assert names[-2:] == ["gateway", "storefront"]
    assert registry.calls("gateway") == ("cart", "catalog", "identity", "search")
    assert registry.calls("search") == ("catalog", "identity")
    assert registry.calls("cart") == ("catalog", "identity")
    assert [s.name for s in registry.subgraphs] == names[:-2]
    assert [s.name for s in registry.web] == ["storefront"]
    # the browser app's origin is admitted where browsers call: the gateway and identity
    shop = registry.url("storefront")
    assert shop in registry.environment("gateway")["EMPORIUM_CORS_ORIGINS"].split(",")
    assert shop in registry.environment("identity")["EMPORIUM_IDENTITY_SESSION_ORIGINS"].split(",")
    for service in registry:
        assert service.directory == find_repo_root() / "services" / service.name


def test_this_checkouts_generated_files_are_current() -> None:
    """subgraphs.json, the chart's registry.yaml, the root project's workspace dependencies
    and README's table are what the registry generates."""
    stale = [str(path) for path in reg.load().stale()]
    assert not stale, f"stale: {stale}; run `{reg.GENERATE}` and commit the result"


def test_the_root_project_depends_on_every_workspace_package() -> None:
    root = find_repo_root()
    project = tomllib.loads((root / "pyproject.toml").read_text())
    packages = reg.workspace_packages(root)
    assert {"emporium-kit", "emporium-platform", "emporium-cart"} <= set(packages)
    assert set(packages) <= set(project["project"]["dependencies"])
    assert set(packages) <= set(project["tool"]["uv"]["sources"])


# ---- deriving ------------------------------------------------------------------------------


def test_environment_links_and_platform_needs(checkout: Checkout) -> None:
    registry = checkout.load()
    catalog = registry["catalog"]
    assert catalog.needs == ("ferretdb", "nats")
    assert catalog.command == (
        "emporium-catalog",
        "serve",
        "--host",
        "{host}",
        "--port",
        "{port}",
    )
    assert registry.environment("catalog") == {
        "EMPORIUM_MONGO_DATABASE": "catalog",
        "EMPORIUM_JWKS_URL": "http://127.0.0.1:8101/.well-known/jwks.json",
    }
    assert registry.environment("search") == {}
    assert registry.environment("gateway") == {"EMPORIUM_METRICS_PORT": "4001"}
    assert registry.links("gateway") == {
        "graphql": "http://127.0.0.1:4000/graphql",
        "metrics": "http://127.0.0.1:4001/metrics",
    }
    assert registry.links("search")["metrics"] == "http://127.0.0.1:8103/metrics"
    gateway = registry["gateway"]
    assert registry.expand(gateway.command[1], gateway) == f"{gateway.directory}/bin.js"


def test_the_gateways_subgraphs(checkout: Checkout) -> None:
    registry = checkout.load()
    document = json.loads(registry.subgraphs_json())
    assert document["subgraphs"] == [
        {
            "name": name,
            "schema": f"../{name}/src/emporium_{name}/schema/*.graphql",
            "url": f"http://127.0.0.1:{port}/graphql",
        }
        for name, port in (("identity", 8101), ("catalog", 8102), ("search", 8103))
    ]


def test_the_charts_view(checkout: Checkout) -> None:
    """kind, runtime and container port from the kind; Datastores for mongo, redis and
    opensearch, `nats` for NATS; the gateway calls every subgraph."""
    services = yaml.safe_load(checkout.load().chart_values())["services"]
    assert services["catalog"] == {
        "kind": "subgraph",
        "runtime": "python",
        "port": 8080,
        "calls": ["identity"],
        "nats": True,
        "datastores": {"mongodb": {"enabled": True}},
    }
    assert services["search"]["datastores"] == {"opensearch": {"enabled": True}}
    assert "nats" not in services["search"]
    assert services["gateway"] == {
        "kind": "gateway",
        "runtime": "node",
        "port": 4000,
        "calls": ["catalog", "identity", "search"],
        "datastores": {"redis": {"enabled": True}},
    }
    assert "calls" not in services["identity"]


def test_the_dev_loop(checkout: Checkout) -> None:
    services = {s["name"]: s for s in checkout.load().dev_loop()["services"]}
    assert services["catalog"] == {
        "name": "catalog",
        "dockerfile": "services/python.Dockerfile",
        "build_args": {"SERVICE": "catalog"},
        "local_port": 8102,
        "container_port": 8080,
        "schema": "services/catalog/src/emporium_catalog/schema",
        "manifest": "services/catalog/pyproject.toml",
        "gateway": False,
    }
    assert services["gateway"]["dockerfile"] == "services/gateway/Dockerfile"
    assert services["gateway"]["schema"] is None


@pytest.mark.parametrize(
    ("changed", "services", "cross", "images"),
    [
        (["docs/catalog.md"], [], False, []),
        (
            ["services/catalog/src/emporium_catalog/app.py"],
            ["catalog"],
            True,
            ["catalog"],
        ),
        (["services/gateway/src/settings.ts"], [], True, ["gateway"]),
        # a workspace package that is no service yet: the cross-service suite only
        (["services/cart/src/emporium_cart/pricing.py"], [], True, []),
        (["services/tests/workflow/test_search.py"], [], True, []),
        (
            ["services/kit/src/emporium_kit/app.py"],
            ["identity", "catalog", "search"],
            True,
            ["identity", "catalog", "search", "datastore-operator"],
        ),
        (["uv.lock"], ["identity", "catalog", "search"], True, None),
        (["services/python.Dockerfile"], [], False, ["identity", "catalog", "search"]),
        (["operators/datastore/src/emporium_operator/main.py"], [], False, ["datastore-operator"]),
        (
            [".dockerignore"],
            [],
            False,
            ["identity", "catalog", "search", "gateway", "datastore-operator"],
        ),
    ],
)
def test_the_ci_plan(
    checkout: Checkout,
    changed: list[str],
    services: list[str],
    cross: bool,
    images: list[str] | None,
) -> None:
    plan = checkout.load().plan(changed)
    assert plan["services"] == services
    assert plan["cross"] is cross
    if images is not None:
        assert [image["image"] for image in plan["images"]] == images


def test_the_ci_plan_names_each_images_dockerfile(checkout: Checkout) -> None:
    images = {i["image"]: i for i in checkout.load().plan([".dockerignore"])["images"]}
    assert images["catalog"] == {
        "image": "catalog",
        "dockerfile": "services/python.Dockerfile",
        "build_args": "SERVICE=catalog",
    }
    assert images["gateway"]["build_args"] == ""
    assert images["datastore-operator"]["dockerfile"] == "operators/datastore/Dockerfile"


def test_generate_writes_and_check_reports_stale_files(
    checkout: Checkout, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--root", str(checkout.root)]
    assert reg.main([*args, "check"]) == 1
    assert "README.md is out of date" in capsys.readouterr().err
    assert reg.main([*args, "generate"]) == 0
    assert reg.main([*args, "check"]) == 0
    readme = (checkout.root / "README.md").read_text()
    assert "| catalog | 8102 | catalog things |" in readme
    assert "| gateway | 4000 (metrics 4001) |" in readme
    assert readme.endswith(reg.README_MARKERS[1] + "\nend\n")
    assert (checkout.root / "services" / "gateway" / "subgraphs.json").is_file()

    checkout.python("orders", "port = 8104")
    assert reg.main([*args, "check"]) == 1
    assert reg.main([*args, "generate"]) == 0
    assert '"name": "orders"' in (checkout.root / "services/gateway/subgraphs.json").read_text()


def test_the_root_projects_workspace_dependencies(checkout: Checkout) -> None:
    """Every member (the excluded Node service is none) becomes a dependency and a workspace
    source; other dependencies and sources stay; a second run changes nothing."""
    packages = reg.workspace_packages(checkout.root)
    assert packages == ["emporium-catalog", "emporium-identity", "emporium-kit", "emporium-search"]
    text = reg.root_pyproject(ROOT_PYPROJECT, packages)
    project = tomllib.loads(text)
    assert project["project"]["dependencies"] == ["rich>=13", *packages]
    sources = project["tool"]["uv"]["sources"]
    assert sources.pop("rich") == {"git": "https://example.invalid/rich"}
    assert sources == {p: {"workspace": True} for p in packages}
    assert project["tool"]["ruff"] == {"line-length": 100}
    assert reg.root_pyproject(text, packages) == text
    assert "emporium-search" not in reg.root_pyproject(text, packages[:-1])


# ---- validation ----------------------------------------------------------------------------


def test_a_workspace_package_without_a_table_is_no_service(checkout: Checkout) -> None:
    folder = checkout.root / "services" / "cart"
    folder.mkdir()
    (folder / "pyproject.toml").write_text('[project]\nname = "emporium-cart"\nversion = "0"\n')
    assert "cart" not in checkout.load().services
    assert "emporium-cart" in reg.workspace_packages(checkout.root)


@pytest.mark.parametrize(
    ("name", "table", "problem"),
    [
        ("orders", "port = 8101", "port 8101 is identity's too"),
        ("orders", "port = 16379", "port 16379 is the local platform's redis"),
        ("orders", "port = 80", "port must be a local port number above 1024"),
        ("orders", 'port = 8104\ndatastores = ["mysql"]', "datastores must be a list of"),
        ("orders", 'port = 8104\ncalls = ["payments"]', "calls 'payments', which is no other"),
        ("orders", 'port = 8104\ncalls = ["orders"]', "calls 'orders', which is no other"),
        ("orders", 'port = 8104\ncalls = ["gateway"]', "calls the gateway"),
        ("orders", "port = 8104\ncolour = 1", "unknown keys ['colour']"),
        ("orders", 'port = 8104\nreadiness = "readyz"', "must be a path starting with '/'"),
        ("orders", 'port = 8104\nenv = { lower = "x" }', "env names must be upper-case"),
        ("orders", 'port = 8104\nenv = { X = "{url[nowhere]}" }', "unknown placeholder"),
        ("orders", 'port = 8104\nschema = "graphql/*.graphql"', "no SDL file matches"),
        ("orders", 'port = 8104\nseed = "emporium-orders seed"', "seed: expected a non-empty"),
    ],
)
def test_invalid_tables_are_refused_with_their_file(
    checkout: Checkout, name: str, table: str, problem: str
) -> None:
    checkout.python(name, table)
    problems = problems_of(checkout)
    assert problem in problems
    assert f"services/{name}/pyproject.toml: " in problems


def test_the_name_is_the_folders_and_the_projects(checkout: Checkout) -> None:
    folder = checkout.python("orders", "port = 8104")
    manifest = folder / "pyproject.toml"
    manifest.write_text(manifest.read_text().replace('name = "orders"', 'name = "order"'))
    assert "name must be the folder's name, 'orders'" in problems_of(checkout)
    manifest.write_text(
        manifest.read_text()
        .replace('name = "order"', 'name = "orders"')
        .replace('name = "emporium-orders"', 'name = "orders-service"')
    )
    assert "the project must be named emporium-orders" in problems_of(checkout)


def test_a_python_service_needs_its_console_script(checkout: Checkout) -> None:
    project = '[project]\nname = "emporium-orders"\nversion = "0"\n'
    checkout.python("orders", "port = 8104", project=project)
    assert "the console script emporium-orders is missing" in problems_of(checkout)


def test_every_problem_is_reported_at_once(checkout: Checkout) -> None:
    checkout.python("orders", 'port = 8101\ncalls = ["payments"]')
    checkout.python("payments", 'port = 8105\ndatastores = ["mysql"]')
    problems = problems_of(checkout)
    assert "port 8101" in problems
    assert "'payments', which is no other" not in problems  # payments exists, if broken
    assert "services/payments/pyproject.toml: datastores" in problems


def test_a_second_gateway_is_refused(checkout: Checkout) -> None:
    folder = checkout.root / "services" / "edge"
    folder.mkdir()
    table = {"name": "edge", "kind": "gateway", "port": 4100, "command": ["node"]}
    (folder / "package.json").write_text(
        json.dumps({"name": "emporium-edge", "emporium": {"service": table}})
    )
    assert "more than one gateway" in problems_of(checkout)


def test_a_gateway_needs_a_command(checkout: Checkout) -> None:
    package = checkout.root / "services" / "gateway" / "package.json"
    document = json.loads(package.read_text())
    del document["emporium"]["service"]["command"]
    package.write_text(json.dumps(document))
    assert "a gateway needs a command" in problems_of(checkout)


def test_a_web_app(checkout: Checkout) -> None:
    """A browser app (kind web) is served by its own command after the gateway; it has no
    schema, no metrics link, its own Dockerfile, and the chart's web kind."""
    folder = checkout.root / "services" / "shop"
    folder.mkdir(parents=True)
    table = {
        "name": "shop",
        "kind": "web",
        "port": 4173,
        "command": ["node", "{dir}/serve.mjs", "--port", "{port}"],
        "env": {"EMPORIUM_GATEWAY_URL": "{url[gateway]}/graphql"},
    }
    package = {"name": "emporium-shop", "emporium": {"service": table}}
    (folder / "package.json").write_text(json.dumps(package))
    registry = checkout.load()
    assert [s.name for s in registry][-2:] == ["gateway", "shop"]
    assert registry.links("shop") == {"shop": "http://127.0.0.1:4173/"}
    assert registry.environment("shop") == {"EMPORIUM_GATEWAY_URL": "http://127.0.0.1:4000/graphql"}
    assert "shop" not in json.loads(registry.subgraphs_json())["subgraphs"]
    chart = yaml.safe_load(registry.chart_values())["services"]["shop"]
    assert chart == {"kind": "web", "port": 8080, "runtime": "node"}
    (dev,) = [s for s in registry.dev_loop()["services"] if s["name"] == "shop"]
    assert dev["dockerfile"] == "services/shop/Dockerfile"
    assert dev["schema"] is None
