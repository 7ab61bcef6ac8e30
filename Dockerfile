# syntax=docker/dockerfile:1
# The procplane image: `procplane api|serve|reconciler|migrate|api-keys`, as the Helm chart runs it.
#
#   docker build -t ghcr.io/procplane/procplane:0.1.0 .
#
# Two stages: the builder resolves the locked dependencies (uv.lock) into a virtual environment;
# the runtime copies that environment and the source into a slim Python image, owned by root and
# run as an unprivileged user (UID 10001), so the code cannot be changed by the process running it.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir --disable-pip-version-check "uv==${UV_VERSION}"
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# Dependencies first: this layer is rebuilt only when the lock changes.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY controlplane ./controlplane
COPY reconciler ./reconciler
COPY procplane ./procplane
COPY crds ./crds
# The project itself, built as a wheel into the environment (no editable link back to /app), with
# the CRDs as package data so `procplane serve --install-crds` works from the image too.
RUN uv sync --frozen --no-dev --no-editable

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="procplane" \
      org.opencontainers.image.description="Kubernetes process control plane" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
WORKDIR /app
# Root-owned and read-only to the runtime user; the chart also mounts the root filesystem read-only.
COPY --from=builder /app/.venv /app/.venv
USER 10001:10001
EXPOSE 8000
# Exec form: no shell is involved in starting procplane.
ENTRYPOINT ["procplane"]
CMD ["api", "--host", "0.0.0.0", "--port", "8000"]
