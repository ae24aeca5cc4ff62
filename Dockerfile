# id-monitor agent image.
#
#   docker build -t id-monitor .                          # from the package index
#   scripts/image build                                   # offline, from a local Debian base (buildah)
#
# BASE_IMAGE must provide python3 (3.11+) with the venv module. The default is the official Python
# image; scripts/image passes a base it builds itself with debootstrap.
ARG BASE_IMAGE=docker.io/library/python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python3 -m venv /opt/id-monitor
# Wheels (see deploy/image/wheels/README.md): the agent and its dependencies for an offline build,
# and the optional native extension id-monitor-native. The directory may hold only its README.
COPY deploy/image/wheels/ /wheels/
COPY pyproject.toml README.md /src/
COPY id_monitor/ /src/id_monitor/
# With the agent's wheel present, install from /wheels only; else build the source tree. The
# `confluent` extra is always in: one image runs either `kafka.client` (kafka-python or confluent-kafka).
RUN if ls /wheels/id_monitor-*.whl >/dev/null 2>&1; then \
        /opt/id-monitor/bin/pip install --no-cache-dir --no-index --find-links /wheels "id-monitor[confluent]"; \
    else \
        /opt/id-monitor/bin/pip install --no-cache-dir --find-links /wheels "/src[confluent]"; \
    fi
# The optional native extension: installed when its wheel was put in /wheels, skipped otherwise.
RUN if ls /wheels/id_monitor_native-*.whl >/dev/null 2>&1; then \
        /opt/id-monitor/bin/pip install --no-cache-dir --no-index --find-links /wheels id-monitor-native; \
    fi \
    && /opt/id-monitor/bin/python -m compileall -q /opt/id-monitor/lib \
    && /opt/id-monitor/bin/python -c "import confluent_kafka, kafka" \
    && /opt/id-monitor/bin/id-monitor --help >/dev/null

FROM ${BASE_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="id-monitor" \
      org.opencontainers.image.description="Observability agent and ID-format monitor: checks the IDs in live traffic and exports Prometheus metrics." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/id-monitor/id-monitor" \
      org.opencontainers.image.documentation="docs/deploy.md"
COPY --from=build /opt/id-monitor /opt/id-monitor
COPY deploy/image/config.yaml /etc/id-monitor/config.yaml
# A fixed numeric user, so that runAsNonRoot can verify it without a passwd lookup.
USER 10001:10001
ENV PATH=/opt/id-monitor/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ID_MONITOR_CONFIG=/etc/id-monitor/config.yaml
EXPOSE 9464
# Exec form: the agent is PID 1 and gets SIGTERM itself (it exits 0 within 10 s).
ENTRYPOINT ["/opt/id-monitor/bin/id-monitor"]
CMD ["run", "--config", "/etc/id-monitor/config.yaml"]
