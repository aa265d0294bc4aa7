"""`arb topics create` is idempotent and reports a topic that differs from the registry."""

from dataclasses import replace

import pytest
from confluent_kafka.admin import ConfigResource, NewTopic

from cli.main import main
from core.kafka import make_admin
from core.settings import KafkaSettings
from core.topics import TOPICS, partitions, topic_name

pytestmark = pytest.mark.integration


def _args(s: KafkaSettings) -> list[str]:
    return ["--bootstrap", s.bootstrap, "--prefix", s.topic_prefix]


def test_create_twice(kafka: KafkaSettings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["topics", "create", *_args(kafka)]) == 0
    first = capsys.readouterr().out
    assert first.count("created") == len(TOPICS) + 3  # + paper orders/outcomes/fills
    assert main(["topics", "create", *_args(kafka)]) == 0
    second = capsys.readouterr().out
    assert "created" not in second and second.count("exists") == len(TOPICS) + 3

    admin = make_admin(kafka)
    md = admin.list_topics(timeout=10).topics
    for logical, spec in TOPICS.items():
        name = topic_name(logical, kafka)
        assert len(md[name].partitions) == partitions(logical, kafka)
        res = ConfigResource(ConfigResource.Type.TOPIC, name)
        cfg = admin.describe_configs([res])[res].result()
        assert cfg["cleanup.policy"].value == spec.cleanup


def test_mismatch_is_an_error(kafka: KafkaSettings, capsys: pytest.CaptureFixture[str]) -> None:
    admin = make_admin(kafka)
    wrong = topic_name("ticks", kafka)
    admin.create_topics([NewTopic(wrong, num_partitions=3, replication_factor=1, config={"cleanup.policy": "compact"})])[wrong].result()
    rc = main(["topics", "create", *_args(kafka)])
    captured = capsys.readouterr()
    assert rc == 1
    line = next(ln for ln in captured.out.splitlines() if ln.endswith(wrong) or wrong + " " in ln)
    assert line.startswith("mismatch") and "3 partitions" in line and "cleanup.policy=compact" in line
    assert "differ from the registry" in captured.err


def test_custom_partition_count_is_respected(kafka: KafkaSettings) -> None:
    from core.topic_admin import ensure_topics

    s = replace(kafka, partitions=4)
    assert all(r.ok for r in ensure_topics(make_admin(s), s, include_paper=False))
    md = make_admin(s).list_topics(timeout=10).topics
    assert len(md[topic_name("signals", s)].partitions) == 4
    assert len(md[topic_name("markets", s)].partitions) == 1


def test_list_shows_what_is_on_the_cluster(kafka: KafkaSettings, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 28: `topics list` printed the registry only; now each topic's state on the cluster, and the extra ones."""
    import json

    admin = make_admin(kafka)
    extra, wrong = f"{kafka.topic_prefix}scratch", topic_name("ticks", kafka)
    for name, n in ((extra, 2), (wrong, 3)):
        admin.create_topics([NewTopic(name, num_partitions=n, replication_factor=1)])[name].result()
    assert main(["topics", "list", "--json", *_args(kafka)]) == 1
    captured = capsys.readouterr()
    rows = {r["topic"]: r for r in json.loads(captured.out)}
    assert rows[wrong]["status"] == "mismatch" and rows[wrong]["partitions"] == 3 and rows[wrong]["registry"]["partitions"] == kafka.partitions
    assert rows[topic_name("signals", kafka)]["status"] == "missing" and rows[topic_name("signals", kafka)]["partitions"] is None
    assert rows[extra]["status"] == "extra" and rows[extra]["partitions"] == 2
    assert captured.err.strip().startswith("arb topics: ") and len(captured.err.strip().splitlines()) == 1
    assert main(["topics", "create", *_args(kafka)]) == 1  # ticks still differs
    capsys.readouterr()
    assert main(["topics", "list", *_args(kafka)]) == 1
    out = capsys.readouterr().out
    assert f"ok        {topic_name('signals', kafka)}" in out and f"extra     {extra}" in out and f"mismatch  {wrong}" in out
