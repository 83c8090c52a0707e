# loopml runtime image: `loopml serve` (the model server) and `loopml watch` (the monitor),
# also `loopml server` (the MLflow tracking server). Two stages: the build stage compiles
# wheels with the toolchain; the runtime stage is python:slim with those wheels only.
#   docker build -t loopml .
#   docker run -p 8000:8000 -v "$PWD/my-project:/project" loopml \
#     serve --set tracking.uri=http://mlflow:5000 --host 0.0.0.0
# BASE_IMAGE swaps the Python base, e.g. for a mirror or an in-house image:
#   docker build --build-arg BASE_IMAGE=registry.example/python:3.11-slim -t loopml .

ARG PYTHON_VERSION=3.11
ARG BASE_IMAGE=python:${PYTHON_VERSION}-slim

FROM ${BASE_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY requirements.lock pyproject.toml README.md ./
COPY src ./src
# Pinned dependencies first (one cached layer), then loopml itself; wheels only, no sources.
RUN pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.lock \
 && pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM ${BASE_IMAGE} AS runtime
# libgomp1: the OpenMP runtime LightGBM links against.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 loopml \
 && useradd --system --uid 10001 --gid loopml --home-dir /project --shell /usr/sbin/nologin loopml
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels loopml \
 && rm -rf /wheels
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MPLCONFIGDIR=/tmp/matplotlib
WORKDIR /project
# Mount points owned by loopml: a named volume mounted there starts with this owner (a
# folder the image lacks would come up root-owned, and the server could not write to it).
RUN mkdir -p /artifacts && chown loopml:loopml /project /artifacts
USER loopml
EXPOSE 8000
# The model server's /health; compose overrides it for the services that are not HTTP.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status != 200)"]
ENTRYPOINT ["loopml"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
