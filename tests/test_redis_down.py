"""Redis down (a private redis-server killed): sign-in and every page keep working, the cache and the
login rate limit fail open with a log line, and promotions still refuse clearly (tests/test_outages.py)."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from mlopsadmin.settings import redis_caches

from .faults import private_redis
from .test_outages import assert_clear_answers, get_pages

pytestmark = [pytest.mark.django_db, pytest.mark.redis, pytest.mark.timeout(300)]


def test_redis_down_sign_in_and_every_page_work(settings, mlflow, personas, demo_password, caplog) -> None:  # type: ignore[no-untyped-def]
    with private_redis() as (url, process):
        settings.REDIS_URL = url
        settings.CACHES = redis_caches(url)
        process.kill()
        process.wait(10)
        client = Client()
        with caplog.at_level(logging.WARNING, logger="mlopsadmin.cache"):
            response = client.post("/accounts/login/", {"username": "lead_search", "password": demo_password})
            assert response.status_code == 302, response.content[:300]
            statuses = assert_clear_answers(client, get_pages())
    assert statuses["/catalog/"] == 200 and statuses["/"] == 200
    assert any(record.name == "mlopsadmin.cache" for record in caplog.records)  # said in the logs
