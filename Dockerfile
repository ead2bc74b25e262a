# syntax=docker/dockerfile:1
# ncrs-monitor container image: one image for the worker, the topics job, the simulated feed and
# every other `ncrs-monitor` subcommand (docker-compose.yml, deploy/k8s/).
#
#   docker build -t ncrs-monitor:0.1.0 .
#   docker run --rm -e NCRS_BOOTSTRAP_SERVERS=kafka:9092 -p 6066:6066 ncrs-monitor:0.1.0
#
# Stage 1 builds wheels for the project and all its dependencies, pinned by constraints.txt, so
# the runtime stage installs offline from exactly the versions CI tested. rocksdict ships
# manylinux wheels, so no compiler is needed in either stage.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY schemas ./schemas
COPY streams ./streams
RUN pip wheel --wheel-dir /wheels --constraint constraints.txt ".[rocksdb]"

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="ncrs-monitor" \
      org.opencontainers.image.description="Real-time National Crime Recording Standard compliance monitor" \
      org.opencontainers.image.licenses="OGL-UK-3.0"
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    NCRS_WEB_PORT=6066 \
    NCRS_LOG_FORMAT=json \
    NCRS_STORE_URL=rocksdb://
# A fixed non-root uid/gid so volume ownership and Kubernetes runAsUser/fsGroup agree.
RUN groupadd --system --gid 10001 ncrs \
 && useradd --system --uid 10001 --gid ncrs --home-dir /var/lib/ncrs --shell /usr/sbin/nologin ncrs \
 && install -d -o ncrs -g ncrs -m 0750 /var/lib/ncrs
COPY --from=build /wheels /wheels
RUN pip install --no-index --find-links /wheels "ncrs-monitor[rocksdb]" \
 && rm -rf /wheels
# faust keeps RocksDB tables under the working directory: mount a volume here
# (docker-compose: worker-N-data; Kubernetes: the StatefulSet's volumeClaimTemplate).
WORKDIR /var/lib/ncrs
VOLUME ["/var/lib/ncrs"]
USER 10001:10001
EXPOSE 6066
# slim has no curl: probe /healthz with the interpreter. urlopen raises on a non-2xx answer.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=4 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('NCRS_WEB_PORT', '6066'), timeout=4)"]
ENTRYPOINT ["ncrs-monitor"]
CMD ["worker"]
