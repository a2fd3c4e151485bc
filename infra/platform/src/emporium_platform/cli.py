"""`emporium-platform`: up / down / status / logs / reset / seed / start / stop / env."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from emporium_platform.core import ComponentFailedError, Platform, PlatformError

app = typer.Typer(
    help="The Emporium local platform: Redis, NATS JetStream, FerretDB, OpenSearch and the "
    "app services, on 127.0.0.1 with data under <repo>/.platform/; on request (`up k8s`) a "
    "Kubernetes control plane.",
    no_args_is_help=True,
    add_completion=False,
)
# Pipes and CI logs get a wide console so URLs are never cut.
console = Console(highlight=False, width=None if os.isatty(1) else 160)
errors = Console(stderr=True, highlight=False, width=None if os.isatty(2) else 160)

RootOption = Annotated[
    Path | None,
    typer.Option("--root", help="Repository root (default: found from the current directory)."),
]


_selected = {"test": False}


@app.callback()
def _instance(
    test: Annotated[
        bool,
        typer.Option(
            "--test",
            help="Act on the test suite's own instance (.platform-test/, the ports of "
            "EMPORIUM_TEST_SLOT), not the developer's platform.",
        ),
    ] = False,
) -> None:
    _selected["test"] = test


def _platform(root: Path | None) -> Platform:
    try:
        return Platform.for_tests(root) if _selected["test"] else Platform(root)
    except (RuntimeError, ValueError) as exc:
        errors.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc


def _fail(exc: PlatformError) -> typer.Exit:
    if isinstance(exc, ComponentFailedError):
        for failure in exc.failures:
            errors.print(f"[bold red]✗ {failure.component}[/bold red]: {failure.reason}")
            if failure.log_tail:
                errors.print(f"[dim]--- last lines of {failure.log_file} ---[/dim]")
                errors.print(failure.log_tail, markup=False)
    else:
        errors.print(f"[bold red]✗[/bold red] {exc}")
    return typer.Exit(1)


def _status_table(platform: Platform) -> Table:
    table = Table("component", "state", "ready", "pid", "port / url", "detail")
    for status in platform.status():
        table.add_row(
            status.name,
            status.state,
            "yes" if status.ready else "no",
            str(status.pid or "-"),
            status.url,
            status.detail,
        )
    return table


def _print_where(platform: Platform) -> None:
    console.print("\n[bold]Where to query things[/bold]")
    statuses = platform.status()
    width = max([11, *(len(s.name) for s in statuses if s.ready)])
    for status in statuses:
        if not status.ready:
            continue
        console.print(f"  {status.name:<{width}} {status.url}")
        for label, url in status.links.items():
            console.print(f"  {'':<{width}} {label}: {url}")
        app = platform.apps.get(status.name)
        if app is not None and app.spec.note:
            console.print(f"  {'':<{width}} {app.spec.note}", markup=False)
    env_file = platform.config.env_file
    console.print(f"\nConnection settings: {env_file}  (`set -a; . {env_file}; set +a`)")
    # the gateway's GraphQL URL is the one clients use (docs/gateway.md)
    endpoint = platform.registry.gateway
    gateway = next((s for s in statuses if endpoint and s.name == endpoint.name and s.ready), None)
    if gateway is not None and "graphql" in gateway.links:
        console.print(
            f"\n[bold]Clients use ONE GraphQL endpoint, the gateway: {gateway.links['graphql']}"
            "[/bold]\n(GraphiQL in a browser; the per-service URLs above are for debugging)"
        )
    # the browser apps (the shop) on their own line, where a person looks first
    for web in platform.registry.web:
        served = next((s for s in statuses if s.name == web.name and s.ready), None)
        if served is not None:
            console.print(f"[bold]Open the {web.name} in a browser: {served.url}/[/bold]")


@app.command()
def up(
    components: Annotated[
        list[str] | None,
        typer.Argument(
            help="Only these components or groups (default: all but the Kubernetes control "
            "plane, which `up k8s` starts)."
        ),
    ] = None,
    infra_only: Annotated[
        bool, typer.Option("--infra-only", help="Start Redis, NATS, FerretDB, OpenSearch only.")
    ] = False,
    seed_data: Annotated[
        bool, typer.Option("--seed", help="Then load every running service's demo data.")
    ] = False,
    root: RootOption = None,
) -> None:
    """Install what is missing, start everything and wait until it is ready."""
    platform = _platform(root)
    try:
        platform.up(components or None, infra_only=infra_only)
        if seed_data and not infra_only:
            _check_seeded(platform.seed())
    except PlatformError as exc:
        raise _fail(exc) from exc
    console.print(_status_table(platform))
    _print_where(platform)


@app.command()
def down(root: RootOption = None) -> None:
    """Stop everything this platform started (its supervisord and all its programs)."""
    platform = _platform(root)
    if platform.down():
        console.print("platform stopped")
    else:
        console.print("platform was not running")


@app.command()
def status(
    check: Annotated[
        bool,
        typer.Option("--check", help="Print nothing; exit 0 only if all infra is up and ready."),
    ] = False,
    root: RootOption = None,
) -> None:
    """Show each component's state, pid and address."""
    platform = _platform(root)
    if check:
        statuses = platform.status()
        infra_ready = all(s.ready for s in statuses if s.kind == "infra")
        raise typer.Exit(0 if platform.is_running() and infra_ready else 1)
    console.print(_status_table(platform))
    if not platform.is_running():
        flag = " --test" if _selected["test"] else ""
        console.print(f"supervisord is not running: `emporium-platform{flag} up` starts it")


@app.command()
def logs(
    component: Annotated[str, typer.Argument(help="Component name, or `supervisord`.")],
    follow: Annotated[
        bool, typer.Option("-f", "--follow", help="Keep printing new lines.")
    ] = False,
    lines: Annotated[int, typer.Option("-n", "--lines", help="Lines to show.")] = 100,
    root: RootOption = None,
) -> None:
    """Print a component's log (stdout and stderr, as captured by supervisord)."""
    platform = _platform(root)
    if component != "supervisord":
        try:
            platform.component(component)
        except PlatformError as exc:
            raise _fail(exc) from exc
    log = platform.config.log_file(component)
    if not log.exists():
        errors.print(f"no log yet at {log}")
        raise typer.Exit(1)
    argv = ["tail", "-n", str(lines), *(["-F"] if follow else []), str(log)]
    os.execvp("tail", argv)


@app.command()
def stop(component: str, root: RootOption = None) -> None:
    """Stop one component or group (`k8s`); its data stays."""
    platform = _platform(root)
    try:
        platform.stop(component)
    except PlatformError as exc:
        raise _fail(exc) from exc
    console.print(f"{component} stopped")


@app.command()
def start(component: str, root: RootOption = None) -> None:
    """Start one component or group (and what it needs) and wait until it is ready."""
    platform = _platform(root)
    try:
        platform.start(component)
    except PlatformError as exc:
        raise _fail(exc) from exc


@app.command()
def reset(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    root: RootOption = None,
) -> None:
    """Stop the platform and delete its data and logs (installs in caches are kept)."""
    platform = _platform(root)
    if not yes:
        typer.confirm(f"Delete everything under {platform.config.state_dir}?", abort=True)
    platform.reset()
    console.print(f"platform stopped and {platform.config.state_dir} emptied")


@app.command()
def seed(
    services: Annotated[list[str] | None, typer.Argument(help="Default: every service.")] = None,
    root: RootOption = None,
) -> None:
    """Load each service's demo data (runs its seed command with the platform settings)."""
    platform = _platform(root)
    try:
        results = platform.seed(services or None)
    except PlatformError as exc:
        raise _fail(exc) from exc
    _check_seeded(results)


def _check_seeded(results: dict[str, int]) -> None:
    if failed := [name for name, code in results.items() if code != 0]:
        errors.print(f"[bold red]✗ seed failed[/bold red] for {', '.join(failed)}")
        raise typer.Exit(1)
    console.print(f"seeded: {', '.join(results) or 'nothing (no service with a seed command)'}")


@app.command()
def env(root: RootOption = None) -> None:
    """Print the connection settings (the content of .platform/env)."""
    for key, value in _platform(root).env().items():
        console.print(f"{key}={value}", markup=False)


def main() -> None:
    app()
