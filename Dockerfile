# The arb image: every role is `arb <command>` (see README "Docker compose").
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
# Dependencies only from the lock (pinned, SHA-256 checked; `make lock`), in their own layer. --no-deps: the
# lock is the whole set, which `pip check` proves below.
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY core core
COPY schemas schemas
COPY cli cli
COPY bench bench
COPY venues venues
COPY simulators simulators
COPY producers producers
COPY processors processors
COPY executor executor
COPY positions positions
COPY demo demo
COPY recording recording
COPY localkafka localkafka
# localkafka/ (`arb broker`, the demo, the tests) fetches Kafka's jars only when run; compose runs the apache/kafka image.
RUN pip install . --no-deps --no-build-isolation && pip check && useradd --create-home --uid 10001 arb && mkdir -p /shared /data && chown arb /shared /data
USER arb
ENTRYPOINT ["arb"]
CMD ["--help"]
