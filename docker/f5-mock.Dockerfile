# The mock F5 BIG-IP. Build context: the repository root, with the wheels of
# envbuilder[f5] prepared on the host (no network inside the build):
#   .venv/bin/pip wheel --wheel-dir build/wheels '.[f5]'
#   docker build -f docker/f5-mock.Dockerfile --build-arg BASE_IMAGE=envbuilder/base:bookworm -t envbuilder/f5-mock .
# HTTPS API on 443 (GET /health needs no credentials); F5MOCK_USERNAME / F5MOCK_PASSWORD
# set the credentials. Configuration and certificate persist in the volume /var/lib/f5-mock.
# Static routes (/mgmt/tm/net/route) are installed in the container: run it with --cap-add NET_ADMIN.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

COPY build/wheels /wheels
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --no-index --find-links /wheels 'envbuilder[f5]' \
    && rm -rf /wheels

# Runs as root, like the appliance: virtual servers must bind whatever ports (80, 443) they are given.
ENV PYTHONUNBUFFERED=1
VOLUME /var/lib/f5-mock
EXPOSE 443
ENTRYPOINT ["/opt/venv/bin/envbuilder", "f5-mock", "serve"]
CMD ["--listen", "0.0.0.0:443", "--state-dir", "/var/lib/f5-mock", "--install-routes"]
