# nanoadmin: NanoMQ's /api/v4 HTTP admin API stand-in.
#   docker build -t nanoadmin .
#   docker run -p 8081:8081 nanoadmin
# Any Debian-like image with python3 (3.11+) and its venv module can stand in for the base:
#   docker build --build-arg BASE_IMAGE=... .
ARG BASE_IMAGE=python:3.12-slim

FROM ${BASE_IMAGE} AS build
# pip settings for the build only (an index or mirror, a timeout); they stay in this stage, so
# they never reach the final image or its history. Unset ones are not passed to pip at all.
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_TRUSTED_HOST
ARG PIP_DEFAULT_TIMEOUT
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
# `python3 -m venv` rather than a fixed path: python:3.12-slim has /usr/local/bin/python3,
# Debian's own python3 is /usr/bin/python3.
RUN python3 -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY nanoadmin ./nanoadmin
RUN /opt/venv/bin/pip install --constraint constraints.txt . \
    && /opt/venv/bin/nanoadmin --version

FROM ${BASE_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    NANOMQ_CONF_PATH=/etc/nanoadmin/nanomq.conf
RUN groupadd --system --gid 10001 nanoadmin \
    && useradd --system --uid 10001 --gid nanoadmin --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin nanoadmin \
    && mkdir -p /etc/nanoadmin/keys
COPY --from=build /opt/venv /opt/venv
# Root-owned and read-only to the server. Override either with a read-only mount:
#   -v "$PWD/my.conf:/etc/nanoadmin/nanomq.conf:ro"
#   -v "$PWD/keys/nanomq.pub:/etc/nanoadmin/keys/nanomq.pub:ro"   (the public key only)
COPY conf/docker/nanomq.conf /etc/nanoadmin/nanomq.conf
USER nanoadmin:nanoadmin
EXPOSE 8081
# No curl in slim images: Python asks /status, bypassing any proxy set in the environment.
# Set NANOADMIN_HEALTHCHECK_URL when a mounted config moves the port or the address.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.build_opener(u.ProxyHandler({})).open(os.environ.get('NANOADMIN_HEALTHCHECK_URL') or 'http://127.0.0.1:8081/status', timeout=4)"]
# The server drains in-flight requests on SIGTERM and exits 0, so `docker stop` is clean.
STOPSIGNAL SIGTERM
ENTRYPOINT ["nanoadmin"]
CMD ["start", "--conf", "/etc/nanoadmin/nanomq.conf"]
