# The arb image: every role is `arb <command>` (see README "Docker compose").
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY core core
COPY schemas schemas
COPY cli cli
COPY bench bench
COPY venues venues
COPY producers producers
COPY processors processors
COPY executor executor
COPY positions positions
COPY demo demo
COPY recording recording
# The embedded broker wheel is only for `arb demo`/tests; compose runs real Kafka.
RUN pip install . && useradd --create-home --uid 10001 arb && mkdir -p /shared /data && chown arb /shared /data
USER arb
ENTRYPOINT ["arb"]
CMD ["--help"]
