# The State API image: a builder stage installs the pinned dependencies into a virtual
# environment; the runtime stage holds only that environment and app/.
#
# BASE_IMAGE defaults to the official slim Python image, so `docker build .` works unchanged
# wherever a registry answers. Where none does, scripts/build_base_image.sh makes a Debian base
# and harness/docker.py passes it here (`--build-arg BASE_IMAGE=state-api-base:bookworm`).
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS builder
# The machine's package index, read at build time by harness/docker.py from its pip
# configuration; unset, pip uses its default index.
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
COPY requirements.txt /tmp/requirements.txt
# Only binary wheels: no compiler in the image, and a missing wheel fails the build at once
# instead of pulling in a toolchain.
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --only-binary=:all: -r /tmp/requirements.txt \
 && /opt/venv/bin/pip uninstall --yes setuptools pip \
 && rm -rf /opt/venv/bin/activate* /opt/venv/bin/Activate.ps1

FROM ${BASE_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DATABASE_PATH=/data/logs.db
# A fixed non-root uid, so that a volume's owner is the same on every build; /data is created
# here, owned by it, before VOLUME so that a new named volume inherits that ownership.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin app \
 && mkdir /data \
 && chown app:app /data
COPY --from=builder /opt/venv /opt/venv
WORKDIR /srv
COPY app/ ./app/
# The root filesystem may be read-only at run time, where Python cannot cache bytecode: compile
# it now (the venv's was compiled by pip), which roughly halves the start-up time.
RUN python3 -m compileall -q app
# Numeric, so that the runtime (and a Kubernetes runAsNonRoot check) sees a non-root uid.
USER 10001:10001
VOLUME ["/data"]
EXPOSE 5000
# urllib from the standard library: no curl in the image. A non-2xx answer raises, exit 1.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/health', timeout=2)"]
# Exec form: the server (uvicorn, configured in app/server.py) is PID 1 and gets SIGTERM
# directly, so `docker stop` ends it at once.
ENTRYPOINT ["python3", "-m", "app.server", "--host", "0.0.0.0", "--port", "5000"]
