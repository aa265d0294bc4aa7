"""The local Kafka's pieces that need no JVM: the lock file, the verified download, Java detection, the
broker settings."""

from __future__ import annotations

import hashlib
import http.server
import importlib.util
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from localkafka import dist as kafka_dist
from localkafka.broker import COMPOSE_SETTINGS, LOCAL_SETTINGS, cluster_id, java_major, server_properties


def test_the_lock_pins_kafkas_broker_with_checksums() -> None:
    lock = kafka_dist.read_lock()
    coords = {j.coords for j in lock.jars}
    assert f"org.apache.kafka:kafka_2.13:{lock.kafka_version}" in coords
    assert any(c.startswith("org.apache.logging.log4j:log4j-slf4j-impl:") for c in coords)  # else the broker logs nothing
    assert lock.repository == "https://repo1.maven.org/maven2"
    for jar in lock.jars:
        assert re.fullmatch(r"[0-9a-f]{64}", jar.sha256) and jar.size > 0 and jar.path.endswith(".jar"), jar
    assert len({j.filename for j in lock.jars}) == len(lock.jars)  # one folder holds them all


def test_the_maintainers_lock_tool_writes_the_lock_the_broker_reads() -> None:
    """tools/lock_kafka.py regenerates the lock in place; `make`/`arb broker` read it through localkafka/dist.py."""
    path = Path(__file__).resolve().parents[2] / "tools" / "lock_kafka.py"
    spec = importlib.util.spec_from_file_location("lock_kafka", path)
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.LOCK == kafka_dist.LOCK_FILE and kafka_dist.LOCK_FILE.is_file()


@pytest.fixture
def maven(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A Maven-layout repository served on 127.0.0.1."""
    root = tmp_path / "repo"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()


def _fake_lock(tmp_path: Path, root: Path, served: bytes, pinned: bytes) -> Path:
    path = "org/example/x/1.0/x-1.0.jar"
    (root / path).parent.mkdir(parents=True)
    (root / path).write_bytes(served)
    lock = {"kafka_version": "0.0.1", "repository": "unused",
            "artifacts": [{"coords": "org.example:x:1.0", "path": path, "sha256": hashlib.sha256(pinned).hexdigest(), "size": len(pinned)}]}
    (tmp_path / "lock.json").write_text(json.dumps(lock))
    return tmp_path / "lock.json"


def test_download_installs_only_what_matches_the_pinned_checksum(tmp_path: Path, maven: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    url, root = maven
    monkeypatch.setenv("ARB_MAVEN_REPOSITORY", url)
    monkeypatch.setenv("ARB_KAFKA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(kafka_dist, "LOCK_FILE", _fake_lock(tmp_path, root, served=b"tampered", pinned=b"original"))
    with pytest.raises(kafka_dist.KafkaDistError, match="SHA-256 .* differs from the lock's"):
        kafka_dist.ensure_installed(progress=lambda _: None)
    libs = kafka_dist.lib_dir()
    assert not any(libs.iterdir())  # nothing half-installed, not even the .part file

    (root / "org/example/x/1.0/x-1.0.jar").write_bytes(b"original")
    lines: list[str] = []
    assert kafka_dist.ensure_installed(progress=lines.append) == libs
    assert (libs / "x-1.0.jar").read_bytes() == b"original" and kafka_dist.verify_all() == []
    assert lines[0].startswith("kafka 0.0.1: downloading 1 jars")
    lines.clear()
    kafka_dist.ensure_installed(progress=lines.append)  # cached: no download, no output
    assert lines == []


def test_an_unreachable_repository_is_one_clear_error(tmp_path: Path, maven: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    _, root = maven
    monkeypatch.setenv("ARB_MAVEN_REPOSITORY", "http://127.0.0.1:9")  # discard port: refused
    monkeypatch.setenv("ARB_KAFKA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(kafka_dist, "LOCK_FILE", _fake_lock(tmp_path, root, served=b"a", pinned=b"a"))
    with pytest.raises(kafka_dist.KafkaDistError, match=r"cannot download http://127\.0\.0\.1:9/org/example"):
        kafka_dist.ensure_installed(progress=lambda _: None)


@pytest.mark.parametrize(("text", "major"), [
    ('openjdk version "17.0.15" 2025-04-15', 17),
    ('openjdk version "21" 2023-09-19', 21),
    ('java version "1.8.0_392"', 8),
    ('openjdk version "25-ea" 2025-09-16', 25),
    ("no version here", None),
])
def test_java_major(text: str, major: int | None) -> None:
    assert java_major(text) == major


def test_cluster_ids_look_like_kafkas() -> None:
    for _ in range(200):
        cid = cluster_id()
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", cid) and not cid.startswith("-")


def test_server_properties_are_one_kraft_node_with_the_compose_settings(tmp_path: Path) -> None:
    props = server_properties(9092, 9093, tmp_path)
    assert props["process.roles"] == "broker,controller" and props["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093" and props["log.dirs"] == str(tmp_path)
    assert {k: props[k] for k in COMPOSE_SETTINGS} == COMPOSE_SETTINGS
    assert props["auto.create.topics.enable"] == "false"  # only `arb topics create` creates topics
    assert int(props["group.min.session.timeout.ms"]) <= 2000  # the chaos rig's 2 s session timeout is accepted
    assert set(LOCAL_SETTINGS).isdisjoint(COMPOSE_SETTINGS)
