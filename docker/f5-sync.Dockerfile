# The f5-sync controller. Build context: the repository root, with the wheels of
# envbuilder[sync] prepared on the host (no network inside the build):
#   .venv/bin/pip wheel --wheel-dir build/wheels '.[sync]'
#   docker build -f docker/f5-sync.Dockerfile --build-arg BASE_IMAGE=envbuilder/base:bookworm -t envbuilder/f5-sync .
# Settings come from the environment (see docs/f5-sync.md); /metrics and /healthz on 8080.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

COPY build/wheels /wheels
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --no-index --find-links /wheels 'envbuilder[sync]' \
    && rm -rf /wheels

# Reads the cluster and talks to the F5; needs no privilege of its own.
USER 65534:65534
ENV PYTHONUNBUFFERED=1
EXPOSE 8080
ENTRYPOINT ["/opt/venv/bin/python", "-m", "envbuilder.components.f5sync"]
