"""Schedule times (EventBridge cron in a time zone) and transform mini-batches (MaxPayloadInMB, filters)."""

from datetime import UTC, datetime

import pytest

from local_mode.sagemaker.model_server import TransformError
from local_mode.sagemaker.transform import _batches, _json_path
from local_mode.scheduler.schedules import next_fire_time, unix_cron


@pytest.mark.parametrize(
    ("eventbridge", "unix"),
    [
        ("cron(0 6 * * ? *)", "0 6 * * *"),
        ("cron(15 10 ? * 2-6 *)", "15 10 * * 1-5"),
        ("cron(0 8 ? * MON-FRI *)", "0 8 * * MON-FRI"),
        ("cron(0 0 L * ? 2027)", "0 0 L * *"),
        ("cron(0 9 ? * 2#1 *)", "0 9 * * 1#1"),  # the first Monday
    ],
)
def test_eventbridge_cron_becomes_unix_cron(eventbridge, unix):
    assert unix_cron(eventbridge) == unix


def test_cron_fires_at_local_time_of_its_time_zone():
    winter_evening = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)
    # 06:00 in Paris is 05:00 UTC in winter
    assert next_fire_time("cron(0 6 * * ? *)", "Europe/Paris", after=winter_evening) == datetime(
        2026, 11, 26, 5, 0, tzinfo=UTC
    )


def test_rate_fires_after_its_period():
    start = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
    assert next_fire_time("rate(2 hours)", "UTC", after=start) == datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def test_multirecord_batches_stay_within_the_payload_limit_and_keep_every_record():
    records = [b"x" * 9 for _ in range(25)]  # 10 bytes each with the newline
    batches = list(_batches(records, limit=100, single=False, key="rows.csv"))
    assert [len(batch) for _, batch in batches] == [10, 10, 5]
    assert [start for start, _ in batches] == [0, 10, 20]


def test_single_record_batches_and_oversized_records():
    assert len(list(_batches([b"a", b"b"], limit=100, single=True, key="k"))) == 2
    with pytest.raises(TransformError, match="record 2 is larger than MaxPayloadInMB"):
        list(_batches([b"a", b"b" * 200], limit=100, single=False, key="k"))


@pytest.mark.parametrize(
    ("expression", "expected"),
    [("$", b"id,1.5,2.5"), ("$[1:]", b"1.5,2.5"), ("$[0,2]", b"id,2.5"), ("$[-1]", b"2.5")],
)
def test_csv_filters_select_columns(expression, expected):
    assert _json_path(expression)(b"id,1.5,2.5") == expected
