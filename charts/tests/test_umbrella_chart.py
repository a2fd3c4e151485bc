"""The umbrella chart: lint, render with default/production/minimal values, validate every
manifest, and hold every service to the zero-downtime, isolation and datastore contracts."""

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from emporium_platform.registry import Registry

pytestmark = pytest.mark.chart

REPO = Path(__file__).resolve().parents[2]
CHARTS = REPO / "charts"
UMBRELLA = CHARTS / "emporium"
KUBERNETES_VERSION = "1.35.0"

Manifest = dict[str, Any]
VALUES_FILES = {
    "default": (),
    "production": (UMBRELLA / "values-production.yaml",),
    "minimal": (UMBRELLA / "values-minimal.yaml",),
}
SUPERGRAPH = REPO / "services" / "gateway" / "supergraph.graphql"
# What the registry says of each service (generated from the registry tables; a unit test
# keeps it current): the layer between the values' defaults and services.<name>.
REGISTRY = yaml.safe_load((UMBRELLA / "registry.yaml").read_text())["services"]
ENGINE_ENV = {
    "mongodb": "EMPORIUM_MONGO_URL",
    "redis": "EMPORIUM_REDIS_URL",
    "opensearch": "EMPORIUM_OPENSEARCH_URL",
}
ENGINE_PORT = {"mongodb": 27017, "redis": 6379, "opensearch": 9200}
# Kinds from CRDs that no offline schema catalogue has: checked here field by field instead.
CUSTOM_KINDS = {
    ("emporium.io/v1alpha1", "Datastore"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
}


def crd_schema() -> dict[str, Any]:
    crd = yaml.safe_load((REPO / "k8s" / "crds" / "datastores.emporium.io.yaml").read_text())
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def validate_manifests(manifests: list[Manifest]) -> None:
    """kubernetes-validate --strict for built-in kinds; our CRD's own schema for Datastores."""
    datastore_schema = crd_schema()
    for manifest in manifests:
        key = (manifest["apiVersion"], manifest["kind"])
        if key == ("emporium.io/v1alpha1", "Datastore"):
            jsonschema.validate(manifest, datastore_schema)
        elif key == ("monitoring.coreos.com/v1", "ServiceMonitor"):
            endpoint = manifest["spec"]["endpoints"][0]
            assert endpoint["port"] in ("http", "metrics")
            assert endpoint["path"] == "/metrics"
            assert manifest["spec"]["selector"]["matchLabels"]
        else:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def find(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    matches = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


@pytest.fixture(scope="module", params=list(VALUES_FILES))
def rendering(request: pytest.FixtureRequest, render: Callable[..., list[Manifest]]):
    return request.param, render(*VALUES_FILES[request.param])


def test_the_release_runs_exactly_the_registrys_services(
    rendering: tuple[str, list[Manifest]], services: list[str], values: dict
) -> None:
    """Every registered service is deployed, whether or not it has a values block; the
    chart's registry.yaml says what the registry says of each."""
    _, manifests = rendering
    assert {m["metadata"]["name"] for m in manifests if m["kind"] == "Deployment"} == set(services)
    assert set(values["services"]) <= set(services)
    assert set(REGISTRY) == set(services)


def test_a_values_block_for_no_service_fails_the_render(
    helm: Callable[..., str], umbrella: Path, install_args: tuple[str, ...]
) -> None:
    out = helm(
        "template",
        "emporium",
        str(umbrella),
        *install_args,
        "--set",
        "services.catlog.replicas=1",
        check=False,
    )
    assert "services.catlog: no such service; the services are cart, catalog, gateway" in out


@pytest.mark.parametrize(
    "chart", ["common", "emporium", "datastore-operator", "datastore-operator-crds"]
)
def test_helm_lint_strict(
    helm: Callable[..., str], umbrella: Path, install_args: tuple[str, ...], chart: str
) -> None:
    helm("lint", "--strict", str(CHARTS / chart), *(install_args if chart == "emporium" else ()))


@pytest.mark.parametrize("values_file", ["values-production.yaml", "values-minimal.yaml"])
def test_helm_lint_strict_with_values(
    helm: Callable[..., str], umbrella: Path, install_args: tuple[str, ...], values_file: str
) -> None:
    helm("lint", "--strict", str(umbrella), *install_args, "--values", str(umbrella / values_file))


def test_every_manifest_is_valid(rendering: tuple[str, list[Manifest]]) -> None:
    _, manifests = rendering
    assert manifests
    validate_manifests(manifests)


def test_every_service_rolls_out_without_dropping_requests(
    rendering: tuple[str, list[Manifest]], services: list[str]
) -> None:
    name_of_rendering, manifests = rendering
    for service in services:
        deployment = find(manifests, "Deployment", service)
        spec = deployment["spec"]
        assert spec["strategy"]["type"] == "RollingUpdate"
        assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
        assert spec["strategy"]["rollingUpdate"]["maxSurge"] >= 1
        pod = spec["template"]["spec"]
        (container,) = pod["containers"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
        assert container["startupProbe"]["httpGet"]["path"] == "/livez"
        # A pod leaves the endpoints (preStop), then drains within the server's graceful
        # shutdown, and the kubelet's SIGKILL comes only after both.
        pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        config = find(manifests, "ConfigMap", f"{service}-config")["data"]
        shutdown = effective(name_of_rendering, service)["shutdown"]
        graceful = shutdown["gracefulSeconds"]
        if "EMPORIUM_SHUTDOWN_DRAIN_S" in config:  # a Python service: the kit's serve
            graceful = float(config["EMPORIUM_SHUTDOWN_GRACE_S"]) + float(
                config["EMPORIUM_SHUTDOWN_DRAIN_S"]
            )
            assert config["EMPORIUM_PORT"] == str(container["ports"][0]["containerPort"])
        assert pre_stop >= 1
        assert pod["terminationGracePeriodSeconds"] > pre_stop + graceful
        # Readiness must fail fast enough to leave the endpoints before the preStop ends.
        readiness = container["readinessProbe"]
        assert readiness["periodSeconds"] * readiness["failureThreshold"] <= 20
        assert {"requests", "limits"} <= container["resources"].keys()
        assert container["resources"]["limits"]["memory"]
        assert {c["topologyKey"] for c in pod["topologySpreadConstraints"]} == {
            "kubernetes.io/hostname",
            "topology.kubernetes.io/zone",
        }
        # Drained (cordoned) nodes must not count, or their pods' replacements stay Pending.
        assert {c["nodeTaintsPolicy"] for c in pod["topologySpreadConstraints"]} == {"Honor"}
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert pod["automountServiceAccountToken"] is False

        pdb = find(manifests, "PodDisruptionBudget", service)
        assert selects(pdb["spec"]["selector"]["matchLabels"], pod_labels(deployment))
        if name_of_rendering == "production":
            hpa = find(manifests, "HorizontalPodAutoscaler", service)
            assert hpa["spec"]["minReplicas"] >= 2
            assert "replicas" not in spec, "the HPA owns replicas; helm upgrade must not reset it"
            if REGISTRY[service]["kind"] == "web":
                # a static file server has no metrics to scrape
                assert not [
                    m
                    for m in manifests
                    if m["kind"] == "ServiceMonitor" and m["metadata"]["name"] == service
                ]
            else:
                find(manifests, "ServiceMonitor", service)
        else:
            assert spec["replicas"] >= 1
        service_obj = find(manifests, "Service", service)
        assert selects(service_obj["spec"]["selector"], pod_labels(deployment))


def effective(rendering: str, service: str) -> dict[str, Any]:
    """A service block as the chart sees it: defaults, then what the registry says of it, then
    its own blocks, each layer's values files in order."""
    layers = [yaml.safe_load((UMBRELLA / "values.yaml").read_text())]
    layers += [yaml.safe_load(path.read_text()) for path in VALUES_FILES[rendering]]
    blocks = [layer.get("defaults") or {} for layer in layers]
    blocks.append(REGISTRY[service])
    blocks += [(layer.get("services") or {}).get(service) or {} for layer in layers]
    merged: dict[str, Any] = {}
    for block in blocks:
        merged = merge(merged, block)
    return merged


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Helm's merge of values: maps key by key, anything else replaced."""
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = merge(base[key], value)
        else:
            merged[key] = value
    return merged


def pod_labels(deployment: Manifest) -> dict[str, str]:
    return deployment["spec"]["template"]["metadata"]["labels"]


def test_network_policies_deny_by_default_and_allow_the_real_edges(
    rendering: tuple[str, list[Manifest]], services: list[str]
) -> None:
    name_of_rendering, manifests = rendering
    deny = find(manifests, "NetworkPolicy", "default-deny")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    for service in services:
        block = effective(name_of_rendering, service)
        policy = find(manifests, "NetworkPolicy", service)
        labels = pod_labels(find(manifests, "Deployment", service))
        assert selects(policy["spec"]["podSelector"]["matchLabels"], labels)
        sources = [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]
        gateway = {
            "podSelector": {
                "matchLabels": {
                    "app.kubernetes.io/name": "gateway",
                    "app.kubernetes.io/instance": "emporium",
                }
            }
        }
        if block.get("kind", "subgraph") == "subgraph":
            assert gateway in sources, f"the gateway must reach {service}"
        else:
            assert gateway not in sources
        egress = policy["spec"]["egress"]
        assert any(rule["ports"][0]["port"] == 53 for rule in egress), "DNS"
        if block.get("nats"):
            assert any(rule["ports"][0]["port"] == 4222 for rule in egress), "NATS"
        for engine, store in (block.get("datastores") or {}).items():
            if not store.get("enabled"):
                continue
            datastore = f"{service}-{engine}"
            assert any(
                rule["to"][0].get("podSelector", {}).get("matchLabels")
                == {"emporium.io/datastore": datastore}
                and rule["ports"] == [{"port": ENGINE_PORT[engine]}]
                for rule in egress
            ), f"{service} must reach {datastore}"
            inbound = find(manifests, "NetworkPolicy", datastore)
            assert inbound["spec"]["podSelector"]["matchLabels"] == {
                "emporium.io/datastore": datastore
            }
            first = inbound["spec"]["ingress"][0]
            assert selects(first["from"][0]["podSelector"]["matchLabels"], labels)


def test_datastores_are_requested_from_the_operator_and_mounted(
    rendering: tuple[str, list[Manifest]], registry: Registry
) -> None:
    """Each datastore a service's registry table needs is a Datastore the operator provisions
    (NATS excepted: a cluster of its own), mounted from its connection Secret."""
    name_of_rendering, manifests = rendering
    engines = {"mongo": "mongodb", "redis": "redis", "opensearch": "opensearch"}
    for entry in registry:
        service = entry.name
        block = effective(name_of_rendering, service)
        expected = {engines[store] for store in entry.datastores if store in engines}
        enabled = {e for e, store in (block.get("datastores") or {}).items() if store["enabled"]}
        assert enabled == expected, service
        assert bool(block.get("nats")) == ("nats" in entry.datastores), service
        container = find(manifests, "Deployment", service)["spec"]["template"]["spec"][
            "containers"
        ][0]
        env = {e["name"]: e for e in container.get("env", [])}
        config = find(manifests, "ConfigMap", f"{service}-config")["data"]
        assert config["EMPORIUM_SERVICE_NAME"] == service
        for engine, store in (block.get("datastores") or {}).items():
            if not store.get("enabled"):
                continue
            datastore = find(manifests, "Datastore", f"{service}-{engine}")
            assert datastore["spec"]["engine"] == engine
            assert datastore["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
            ref = env[ENGINE_ENV[engine]]["valueFrom"]["secretKeyRef"]
            assert ref == {"name": f"{service}-{engine}-connection", "key": "url"}
            if engine == "mongodb":
                assert config["EMPORIUM_MONGO_DATABASE"] == service
    requested = {m["metadata"]["name"] for m in manifests if m["kind"] == "Datastore"}
    assert requested == {
        f"{entry.name}-{engines[store]}"
        for entry in registry
        for store in entry.datastores
        if store in engines
    }


def test_production_replicates_datastores_and_keeps_their_data(render) -> None:
    manifests = render(*VALUES_FILES["production"])
    for datastore in (m for m in manifests if m["kind"] == "Datastore"):
        assert datastore["spec"]["replicas"] >= 2
        assert datastore["spec"]["deletionPolicy"] == "Retain"


def test_event_streams_are_replicated_three_times_in_production(render, registry: Registry) -> None:
    """Services with events ensure their streams with EMPORIUM_NATS_STREAM_REPLICAS: 1 with
    the default values (a one-node NATS works), 3 with the production values."""
    uses_nats = {service.name for service in registry if "nats" in service.datastores}
    assert uses_nats
    for rendering, expected in (("default", "1"), ("production", "3")):
        manifests = render(*VALUES_FILES[rendering])
        for service in (s.name for s in registry):
            config = find(manifests, "ConfigMap", f"{service}-config")["data"]
            replicas = config.get("EMPORIUM_NATS_STREAM_REPLICAS")
            assert replicas == (expected if service in uses_nats else None), (rendering, service)


def test_the_gateway_gets_the_supergraph_its_subgraphs_and_its_clients(
    render, registry: Registry
) -> None:
    """The composed supergraph (services/gateway/supergraph.graphql, --set-file at install) is
    mounted where the gateway reads it; it routes to every subgraph it calls through their
    Services, takes client traffic from the ingress controller and gets no Python server
    settings."""
    manifests = render()
    supergraph = find(manifests, "ConfigMap", "gateway-supergraph")["data"]["supergraph.graphql"]
    assert supergraph.strip() == SUPERGRAPH.read_text().strip()
    pod = find(manifests, "Deployment", "gateway")["spec"]["template"]["spec"]
    assert {"name": "supergraph", "configMap": {"name": "gateway-supergraph"}} in pod["volumes"]
    (container,) = pod["containers"]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "supergraph")
    assert "subPath" not in mount, "a subPath mount never sees a ConfigMap update (hot reload)"
    config = find(manifests, "ConfigMap", "gateway-config")["data"]
    assert config["EMPORIUM_SUPERGRAPH_PATH"] == f"{mount['mountPath']}/supergraph.graphql"
    assert config["PORT"] == str(container["ports"][0]["containerPort"]) == "4000"
    assert "EMPORIUM_PORT" not in config, "a node service gets no Python server settings"
    assert config["EMPORIUM_JWKS_URL"] == "http://identity/.well-known/jwks.json"
    subgraphs = {service.name for service in registry.subgraphs}
    assert {"identity", "catalog", "search"} <= subgraphs
    assert {k for k in config if k.startswith("EMPORIUM_SUBGRAPH_")} == {
        f"EMPORIUM_SUBGRAPH_{subgraph.upper()}_URL" for subgraph in subgraphs
    }
    for subgraph in subgraphs:
        url = config[f"EMPORIUM_SUBGRAPH_{subgraph.upper()}_URL"]
        assert url == f"http://{subgraph}:80/graphql"
        assert find(manifests, "Service", subgraph)["spec"]["ports"][0]["port"] == 80
    env = {e["name"]: e for e in container["env"]}
    assert (
        env["EMPORIUM_REDIS_URL"]["valueFrom"]["secretKeyRef"]["name"] == "gateway-redis-connection"
    )
    policy = find(manifests, "NetworkPolicy", "gateway")["spec"]
    sources = [peer for rule in policy["ingress"] for peer in rule["from"]]
    assert {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}
    } in sources
    assert subgraphs <= egress_targets(policy)


def test_the_gateway_serves_metrics_apart_from_its_clients(render) -> None:
    """Clients (through the ingress controller) reach the gateway's GraphQL port only;
    Prometheus scrapes its metrics port, which the gateway binds on every interface."""
    manifests = render(*VALUES_FILES["production"])
    (container,) = find(manifests, "Deployment", "gateway")["spec"]["template"]["spec"][
        "containers"
    ]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"http": 4000, "metrics": 9464}
    config = find(manifests, "ConfigMap", "gateway-config")["data"]
    assert config["EMPORIUM_METRICS_PORT"] == "9464"
    assert config["EMPORIUM_METRICS_HOST"] == "0.0.0.0"
    service_ports = find(manifests, "Service", "gateway")["spec"]["ports"]
    assert {"name": "metrics", "port": 9464, "targetPort": "metrics", "protocol": "TCP"} in (
        service_ports
    )
    monitor = find(manifests, "ServiceMonitor", "gateway")["spec"]["endpoints"][0]
    assert (monitor["port"], monitor["path"]) == ("metrics", "/metrics")
    ingress = find(manifests, "NetworkPolicy", "gateway")["spec"]["ingress"]
    controller = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}
    }
    monitoring = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
    }
    assert [rule["ports"] for rule in ingress if controller in rule["from"]] == [[{"port": "http"}]]
    assert [rule["ports"] for rule in ingress if monitoring in rule["from"]] == [
        [{"port": "metrics"}]
    ]
    # services without a metrics port are scraped on their http port, and get no metrics env
    catalog = find(manifests, "ServiceMonitor", "catalog")["spec"]["endpoints"][0]
    assert catalog["port"] == "http"
    assert "EMPORIUM_METRICS_PORT" not in find(manifests, "ConfigMap", "catalog-config")["data"]


def test_the_gateway_without_a_supergraph_fails_with_a_clear_message(helm, umbrella: Path) -> None:
    out = helm(
        "template",
        "emporium",
        str(umbrella),
        "--set",
        "global.publicUrl=https://shop.example.test",
        check=False,
    )
    assert "services.gateway.supergraph.content is empty" in out


def test_production_needs_the_public_https_url(helm, umbrella: Path) -> None:
    """identity builds OAuth redirect URIs from it and refuses plain http in production."""
    supergraph = f"services.gateway.supergraph.content={SUPERGRAPH}"
    for extra in ((), ("--set", "global.publicUrl=http://shop.example.test")):
        out = helm(
            "template", "emporium", str(umbrella), "--set-file", supergraph, *extra, check=False
        )
        assert "global.publicUrl must be the platform's https URL in production" in out
    manifests = render_ok(
        helm, umbrella, "--set-file", supergraph, "--set", "global.environment=development"
    )
    config = find(manifests, "ConfigMap", "identity-config")["data"]
    assert "EMPORIUM_IDENTITY_PUBLIC_URL" not in config, "empty: identity's own default applies"


def render_ok(helm, umbrella: Path, *args: str) -> list[Manifest]:
    return [d for d in yaml.safe_load_all(helm("template", "emporium", str(umbrella), *args)) if d]


def egress_targets(policy: dict[str, Any]) -> set[str]:
    """Names of the release's services a NetworkPolicy lets its pods call."""
    return {
        rule["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
        for rule in policy["egress"]
        if "app.kubernetes.io/instance"
        in rule["to"][0].get("podSelector", {}).get("matchLabels", {})
    }


def ingress_sources(policy: dict[str, Any]) -> set[str]:
    return {
        peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
        for rule in policy["ingress"]
        for peer in rule["from"]
        if "app.kubernetes.io/name" in peer.get("podSelector", {}).get("matchLabels", {})
    }


def test_every_call_is_allowed_at_both_ends(
    rendering: tuple[str, list[Manifest]], registry: Registry
) -> None:
    """A call is declared once, in the caller's registry table (`calls`): the caller may send
    it and the callee accepts it (the gateway → subgraphs, search → catalog, catalog and search
    → identity for the JWKS)."""
    _, manifests = rendering
    edges = {
        (service.name, callee) for service in registry for callee in registry.calls(service.name)
    }
    assert {
        ("gateway", "identity"),
        ("gateway", "catalog"),
        ("gateway", "search"),
        ("search", "catalog"),
        ("catalog", "identity"),
    } <= edges
    for caller, callee in edges:
        assert callee in egress_targets(find(manifests, "NetworkPolicy", caller)["spec"])
        assert caller in ingress_sources(find(manifests, "NetworkPolicy", callee)["spec"])
    for service in (s.name for s in registry):
        callers = {caller for caller, callee in edges if callee == service} | {"gateway"}
        allowed = ingress_sources(find(manifests, "NetworkPolicy", service)["spec"])
        assert allowed <= callers, f"{service} accepts calls nobody declared: {allowed - callers}"


def test_public_services_take_traffic_from_the_ingress_controller(
    render, services: list[str], values: dict
) -> None:
    manifests = render()
    controller = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}
    }
    for service in services:
        block = effective("default", service)
        policy = find(manifests, "NetworkPolicy", service)["spec"]
        sources = [peer for rule in policy["ingress"] for peer in rule["from"]]
        exposed = block.get("public", False) or block.get("kind") in {"gateway", "web"}
        assert (controller in sources) == exposed, service
    assert values["services"]["identity"]["public"], "browsers reach identity's /oauth routes"


def test_one_ingress_routes_the_shop_with_the_gateway(render, services: list[str]) -> None:
    """One host: the shop at /, the gateway at /graphql, identity's browser routes; the shop
    reaches its APIs on its own origin."""
    manifests = render(extra=("--set", "global.publicUrl=https://shop.example.com"))
    (ingress,) = [m for m in manifests if m["kind"] == "Ingress"]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "shop.example.com"
    routes = {p["path"]: p["backend"]["service"]["name"] for p in rule["http"]["paths"]}
    assert routes == {
        "/": "storefront",
        "/graphql": "gateway",
        "/oauth": "identity",
        "/auth/session": "identity",
    }
    config = find(manifests, "ConfigMap", "storefront-config")["data"]
    assert config["EMPORIUM_GATEWAY_URL"] == "https://shop.example.com/graphql"
    assert config["EMPORIUM_IDENTITY_URL"] == "https://shop.example.com"
    identity = find(manifests, "ConfigMap", "identity-config")["data"]
    assert identity["EMPORIUM_IDENTITY_SESSION_ORIGINS"] == "https://shop.example.com"
    # the shop's server renders pages from the gateway inside the cluster: DNS and the
    # gateway are its only egress, and the gateway admits it
    assert config["EMPORIUM_SSR_GATEWAY_URL"] == "http://gateway/graphql"
    egress = find(manifests, "NetworkPolicy", "storefront")["spec"]["egress"]
    assert len(egress) == 2
    gateway_policy = find(manifests, "NetworkPolicy", "gateway")["spec"]
    callers = [peer for rule in gateway_policy["ingress"] for peer in rule["from"]]
    assert any(
        peer.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name")
        == "storefront"
        for peer in callers
    ), callers
    assert not [
        m
        for m in manifests
        if m["kind"] == "ServiceMonitor" and m["metadata"]["name"] == "storefront"
    ]


def _required_in_production(settings: Path) -> set[str]:
    """The settings a settings.py refuses to run in production without ("EMPORIUM_... must be
    set in production")."""
    if not settings.exists():
        return set()
    return set(re.findall(r"(EMPORIUM_[A-Z0-9_]+) must be set in production", settings.read_text()))


KIT_SETTINGS = REPO / "services" / "kit" / "src" / "emporium_kit" / "settings.py"


def production_required_secrets(service: str) -> set[str]:
    """What a Python service refuses to run in production without: the kit's settings every
    service shares, and its own."""
    package = REPO / "services" / service / "src" / f"emporium_{service}"
    if not package.exists():
        return set()
    return _required_in_production(KIT_SETTINGS) | _required_in_production(package / "settings.py")


def test_production_secrets_come_from_kubernetes_secrets(
    render, services: list[str], values: dict
) -> None:
    """Every setting a service requires in production is wired from a Secret (never a value
    in the chart): the shared ones from the one shared Secret, a service's own from its
    Secret; required in production, optional in development (the dev defaults apply)."""
    shared = _required_in_production(KIT_SETTINGS)
    assert shared == {"EMPORIUM_CURSOR_SECRET"}
    assert set(values["global"]["sharedSecret"]["env"]) == shared
    required = {s: production_required_secrets(s) for s in services}
    assert required["identity"] == {"EMPORIUM_IDENTITY_KEY_ENCRYPTION_KEYS", *shared}
    assert required["catalog"] == shared
    assert required["search"] == shared
    assert required["gateway"] == set()
    for name, values_files in (
        ("production", VALUES_FILES["production"]),
        ("minimal", VALUES_FILES["minimal"]),
    ):
        manifests = render(*values_files)
        for service, variables in required.items():
            container = find(manifests, "Deployment", service)["spec"]["template"]["spec"][
                "containers"
            ][0]
            env = {e["name"]: e for e in container.get("env", [])}
            config = find(manifests, "ConfigMap", f"{service}-config")["data"]
            for variable in variables:
                assert variable not in config, f"{variable} must not be a ConfigMap value"
                ref = env[variable]["valueFrom"]["secretKeyRef"]
                expected = "emporium-shared" if variable in shared else f"{service}-secrets"
                assert ref["name"] == expected, (service, variable)
                assert ref["optional"] is (name == "minimal"), (name, service, variable)
        gateway = find(manifests, "Deployment", "gateway")["spec"]["template"]["spec"]
        names = {e["name"] for e in gateway["containers"][0].get("env", [])}
        assert not names & shared, "the gateway (Node) reads no Python service settings"
    production = render(*VALUES_FILES["production"])
    identity = find(production, "ConfigMap", "identity-config")["data"]
    assert identity["EMPORIUM_IDENTITY_PUBLIC_URL"] == "https://shop.example.test"
    container = find(production, "Deployment", "identity")["spec"]["template"]["spec"][
        "containers"
    ][0]
    oauth = next(e for e in container["env"] if e["name"] == "EMPORIUM_IDENTITY_OAUTH_PROVIDERS")
    assert oauth["valueFrom"]["secretKeyRef"]["optional"] is True, "no OAuth providers is fine"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("services.catalog.datastores.mongodb.replicas=2", "value must be one of 1, 3, 5, 7"),
        ("services.catalog.datastores.redis.deletionPolicy=Orphan", "deletionPolicy"),
        ("services.catalog.datastores.mongodb.version=latest", "does not match pattern"),
        ("services.catalog.probes.readinessPath=readyz", "does not match pattern"),
        ("services.Catalog.enabled=true", "invalid propertyName"),
        ("services.catalog.replica=3", "additional properties 'replica' not allowed"),
        ("global.nats.url=http://nats:4222", "does not match pattern"),
        ("global.nats.streamReplicas=7", "maximum"),
        ("global.publicUrl=https://shop.example.test/path", "does not match pattern"),
        ("services.search.secretEnv.cursor_secret=x", "invalid propertyName"),
        ("services.search.secretEnv.EMPORIUM_X.optional=true", "missing property 'key'"),
    ],
)
def test_bad_values_fail_at_install_time(
    helm, umbrella: Path, install_args: tuple[str, ...], override: str, message: str
) -> None:
    out = helm("template", "emporium", str(umbrella), *install_args, "--set", override, check=False)
    assert message in out, out


def test_values_schema_is_valid_json_schema() -> None:
    schema = json.loads((UMBRELLA / "values.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    defaults = yaml.safe_load((UMBRELLA / "values.yaml").read_text())
    jsonschema.validate(defaults, schema)


def test_every_value_is_documented() -> None:
    """Bitnami style: every leaf under global and defaults has an @param line."""
    text = (UMBRELLA / "values.yaml").read_text()
    documented = {
        line.split()[2] for line in text.splitlines() if line.strip().startswith("## @param")
    }
    values = yaml.safe_load(text)

    def leaves(prefix: str, node: Any) -> list[str]:
        if prefix in documented:
            return []
        if isinstance(node, dict) and node:
            return [
                leaf for key, child in node.items() for leaf in leaves(f"{prefix}.{key}", child)
            ]
        return [prefix]

    missing = [
        leaf for section in ("global", "defaults") for leaf in leaves(section, values[section])
    ]
    missing += [
        f"services.{name}" for name in values["services"] if f"services.{name}" not in documented
    ]
    assert not missing, f"undocumented values: {missing}"
