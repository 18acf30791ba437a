"""Checking MLflow registry webhook deliveries (MLflow 3.3+): HMAC-SHA256 over
"<delivery id>.<timestamp>.<body>", sent as "v1,<base64>" in X-MLflow-Signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache

SIGNATURE_HEADER = "X-MLflow-Signature"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DELIVERY_HEADER = "X-MLflow-Delivery-Id"


class BadSignature(Exception):
    pass


def sign(secret: str, delivery_id: str, timestamp: str, body: str) -> str:
    digest = hmac.new(secret.encode(), f"{delivery_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(
    *, secret: str, signature: str, timestamp: str, delivery_id: str, body: bytes, now: float | None = None
) -> dict[str, Any]:
    """The parsed payload of a genuine, fresh delivery; BadSignature otherwise."""
    if not secret:
        raise BadSignature("MLFLOW_WEBHOOK_SECRET is not configured; webhooks are refused.")
    if not signature or not timestamp or not delivery_id:
        raise BadSignature("Missing webhook signature headers.")
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
        text = body.decode("utf-8")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadSignature("Malformed timestamp or body.") from exc
    if age > settings.PROMOTION_WEBHOOK_MAX_AGE_SECONDS:
        raise BadSignature("The delivery is too old (or from the future): possible replay.")
    if not hmac.compare_digest(sign(secret, delivery_id, timestamp, text), signature):
        raise BadSignature("Signature mismatch.")
    try:
        payload = json.loads(text)
    except ValueError as exc:
        raise BadSignature("The body is not JSON.") from exc
    if not isinstance(payload, dict):
        raise BadSignature("The body is not a JSON object.")
    return payload


def _seen_key(delivery_id: str) -> str:
    return "mlflow-webhook-delivery:" + hashlib.sha256(delivery_id.encode()).hexdigest()


def already_handled(delivery_id: str) -> bool:
    """Whether this delivery id was handled before: a replay of a captured delivery (its signature and
    timestamp still good) or MLflow retrying one whose answer it missed. Ids are kept twice the accepted age
    (PROMOTION_WEBHOOK_MAX_AGE_SECONDS: an older delivery is refused anyway), in the cache shared by the web
    workers; the cache failing open forgets them (a replay is then reconciled again: harmless, it reads MLflow)."""
    return cache.get(_seen_key(delivery_id)) is not None


def remember_handled(delivery_id: str) -> None:
    """Record a delivery id once it was handled (not before: a delivery that failed half-way is handled
    again when MLflow retries it)."""
    cache.set(_seen_key(delivery_id), 1, timeout=2 * settings.PROMOTION_WEBHOOK_MAX_AGE_SECONDS + 60)


def model_name_of(payload: dict[str, Any]) -> str | None:
    data = payload.get("data")
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name else None


def alias_hint(payload: dict[str, Any]) -> tuple[str, str | None] | None:
    """(alias, version) for a `model_version_alias.created` delivery, (alias, None) for `.deleted`;
    None for any other event or a malformed payload (then the delivery is only a hint to reconcile)."""
    data = payload.get("data")
    if payload.get("entity") != "model_version_alias" or not isinstance(data, dict):
        return None
    alias, version = data.get("alias"), data.get("version")
    if not isinstance(alias, str) or not alias:
        return None
    if payload.get("action") == "deleted":
        return alias, None
    if payload.get("action") in ("created", "updated") and isinstance(version, (str, int)) and str(version).isdigit():
        return alias, str(int(version))
    return None
