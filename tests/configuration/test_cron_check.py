"""A schedule in a configuration file is checked without loading Celery when it has a plain numeric form,
and that check never accepts what Celery's beat would refuse (nor refuses what it accepts)."""

from __future__ import annotations

import itertools

import pytest

from mlopsadmin.schedules import cron_to_crontab, cron_valid

BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))


def celery_accepts(cron: str) -> bool:
    try:
        cron_to_crontab(cron)
    except (ValueError, TypeError, KeyError):
        return False
    return True


def field_forms(low: int, high: int) -> list[str]:
    mid = (low + high) // 2
    return [
        "*", "*/1", "*/7", "*/0", str(low), str(high), str(high + 1), str(low - 1) if low else "-1",
        f"{low}-{high}", f"{low}-{high}/2", f"{mid}-{low}", f"{mid}/5", f"{low},{high}", f"{low},", "0x1", "٣",
        "30", "29-31", "30,31",
    ]  # fmt: skip


@pytest.mark.parametrize("position", range(5))
def test_the_plain_check_agrees_with_celery_on_every_field(position: int) -> None:
    low, high = BOUNDS[position]
    base = ["5", "4", "3", "2", "1"]
    for form in field_forms(low, high):
        cron = " ".join(base[:position] + [form] + base[position + 1 :])
        assert cron_valid(cron) == celery_accepts(cron), cron


def test_named_and_odd_forms_go_to_celery() -> None:
    for cron in ["0 6 * * mon-fri", "0 6 * jan,jul *", "0 22-2 * * *", "* * * *", "1 2 3 4 5 6", "a b c d e"]:
        assert cron_valid(cron) == celery_accepts(cron), cron
    assert cron_valid("0 6 * * mon-fri") and not cron_valid("* * * *")


def test_combinations_of_plain_fields() -> None:
    samples = [[f"{lo}", f"{lo}-{hi}/3", "*/15"] for lo, hi in BOUNDS]
    for fields in itertools.product(*samples):
        assert cron_valid(" ".join(fields)) and celery_accepts(" ".join(fields))


def test_days_some_month_lacks() -> None:
    for cron in ["0 0 31 2 *", "0 0 30 2 *", "0 0 29 2 *", "0 0 31 4,6 *", "0 0 31 1,4 *", "0 0 30-31 */2 *"]:
        assert cron_valid(cron) == celery_accepts(cron), cron
