import pytest

from core.partitioning import murmur2, partition_for


# Vectors from Kafka's UtilsTest.testMurmur2 (signed Java ints).
@pytest.mark.parametrize(("key", "expected"), [
    ("21", -973932308),
    ("foobar", -790332482),
    ("a-little-bit-long-string", -985981536),
    ("a-little-bit-longer-string", -1486304829),
    ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
    ("abc", 479470107),
])
def test_murmur2_matches_kafka(key: str, expected: int) -> None:
    assert murmur2(key.encode()) == expected & 0xFFFFFFFF


def test_partition_in_range_and_stable() -> None:
    parts = {partition_for(f"nfl-20261129-buf-kc-{i}", 12) for i in range(200)}
    assert parts <= set(range(12)) and len(parts) == 12
    assert partition_for("nba-20261201-bos-nyk", 12) == partition_for(b"nba-20261201-bos-nyk", 12)
