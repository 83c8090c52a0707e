# Stand-in for the prom/prometheus image of docker-compose.yaml, for a host that cannot pull
# it: Prometheus from the Debian packages of the base the loopml image is built on, run as
# the official image runs it (the compose command gives --config.file and
# --storage.tsdb.path=/prometheus). Selected by docker-compose.standin.yaml; the version is
# the distribution's.
ARG PYTHON_VERSION=3.11
ARG BASE_IMAGE=python:${PYTHON_VERSION}-slim
FROM ${BASE_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends prometheus \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /prometheus /etc/prometheus \
 && chown prometheus:prometheus /prometheus
USER prometheus
WORKDIR /prometheus
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
