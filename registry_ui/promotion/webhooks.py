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
