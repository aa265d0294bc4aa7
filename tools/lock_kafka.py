"""Regenerate localkafka/kafka_jars.lock.json: the pinned, checksummed runtime classpath of Apache Kafka's broker.

A maintainer's tool, run once per Kafka upgrade (needs Maven and network); users never run it: `make`
downloads exactly the files the lock lists and checks their SHA-256 (localkafka/dist.py).

    python tools/lock_kafka.py 4.4.0

The broker is the Maven Central artifact org.apache.kafka:kafka_2.13 (Kafka's Scala "core" module) with
its declared runtime dependencies, which is what the release tarball's libs/ holds for the broker, plus
the log4j2 binding for slf4j that the tarball adds and the pom does not declare (without it the broker
logs nothing).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "localkafka" / "kafka_jars.lock.json"
CENTRAL = "https://repo1.maven.org/maven2"
LOG4J = "2.25.5"  # the version kafka_2.13's own log4j-core dependency resolves to; keep them equal


def _pom(version: str) -> str:
    deps = [("org.apache.kafka", "kafka_2.13", version), ("org.apache.logging.log4j", "log4j-slf4j-impl", LOG4J)]
    body = "".join(f"<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version></dependency>" for g, a, v in deps)
    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        f"<groupId>arb</groupId><artifactId>kafka-lock</artifactId><version>1</version><dependencies>{body}</dependencies></project>"
    )


def resolve(version: str) -> list[dict[str, object]]:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "pom.xml").write_text(_pom(version))
        out = Path(tmp) / "deps.txt"
        subprocess.run(["mvn", "-q", "-B", "dependency:list", "-DincludeScope=runtime", f"-DoutputFile={out}",  # noqa: S603,S607 - fixed argv
                        "-DoutputAbsoluteArtifactFilename=true"], cwd=tmp, check=True)
        artifacts = []
        for line in out.read_text().splitlines():
            parts = line.strip().split(":")
            if len(parts) < 6 or parts[2] != "jar":
                continue
            group, artifact, _, ver, _scope, local = parts[0], parts[1], parts[2], parts[3], parts[4], ":".join(parts[5:])
            data = Path(local).read_bytes()
            artifacts.append({
                "coords": f"{group}:{artifact}:{ver}",
                "path": f"{group.replace('.', '/')}/{artifact}/{ver}/{artifact}-{ver}.jar",
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
            })
    return sorted(artifacts, key=lambda a: str(a["coords"]))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("version", help="Apache Kafka release, e.g. 4.4.0")
    args = p.parse_args()
    lock = {"kafka_version": args.version, "repository": CENTRAL, "artifacts": resolve(args.version)}
    LOCK.write_text(json.dumps(lock, indent=1) + "\n")
    print(f"{LOCK.relative_to(REPO)}: {len(lock['artifacts'])} jars for Kafka {args.version}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
