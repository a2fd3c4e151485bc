# syntax=docker/dockerfile:1.10
# The image of every Python service; SERVICE names it (its folder, package emporium_<SERVICE>,
# console script emporium-<SERVICE>). Build from the repository root (the uv workspace):
#   docker build -f services/python.Dockerfile --build-arg SERVICE=catalog -t catalog .
# The dev loop and CI pass SERVICE from the service registry (docs/adding-a-service.md).

# Base images pinned to exact versions (Renovate bumps them; releases record the digests).
FROM ghcr.io/astral-sh/uv:0.9.7 AS uv

# ---- build: resolve nothing, install exactly what uv.lock says into /opt/venv ----
FROM python:3.11.14-slim-bookworm AS build
ARG SERVICE
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/opt/venv
WORKDIR /src
# Third-party dependencies first, from the lock alone: this layer survives source edits.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    test -n "${SERVICE}" \
    && uv sync --frozen --no-dev --no-install-workspace --package "emporium-${SERVICE}"
# Then the workspace packages this service needs, installed (not editable) into the venv, and
# its console script under the one name the entrypoint uses.
COPY . .
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package "emporium-${SERVICE}" \
    && ln -s "emporium-${SERVICE}" "${UV_PROJECT_ENVIRONMENT}/bin/emporium-service"

# ---- runtime: the interpreter, the venv, nothing else (no uv, no compilers, no sources) ----
FROM python:3.11.14-slim-bookworm AS runtime
ARG SERVICE
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="emporium-${SERVICE}" \
      org.opencontainers.image.description="Emporium ${SERVICE} service, a federated GraphQL subgraph" \
      org.opencontainers.image.source="https://github.com/emporium/emporium" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="Emporium" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
RUN groupadd --system --gid 10001 emporium \
    && useradd --system --uid 10001 --gid emporium --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin emporium
COPY --from=build --chown=root:root /opt/venv /opt/venv
# Read-only root filesystem: nothing is written at run time except /tmp (an emptyDir in the
# chart); bytecode was compiled at build time.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    EMPORIUM_SERVICE_NAME=${SERVICE} \
    EMPORIUM_HOST=0.0.0.0 \
    EMPORIUM_PORT=8080 \
    EMPORIUM_SHUTDOWN_DRAIN_S=20
USER 10001:10001
EXPOSE 8080
HEALTHCHECK NONE
# Exec form: the service's own `emporium-<SERVICE> serve` (the kit's graceful uvicorn server,
# uvloop + httptools) is PID 1 and receives SIGTERM itself: readiness turns 503, requests are
# still served for EMPORIUM_SHUTDOWN_GRACE_S (the chart sets 0: its preStop hook already took
# the pod out of the endpoints), then it stops accepting and drains in-flight requests for up
# to EMPORIUM_SHUTDOWN_DRAIN_S seconds. It starts no child processes (one worker per pod), so
# there are no zombies to reap and no init is needed.
ENTRYPOINT ["emporium-service"]
CMD ["serve"]
