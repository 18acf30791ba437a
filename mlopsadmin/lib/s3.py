"""The S3 wrapper: the only module in mlopsadmin that imports `boto3`.

Used by the capacity check (artifact store sizes). Client construction follows settings (S3_ENDPOINT_URL
for MinIO / moto / other S3-compatible stores); listing is fully paginated and streamed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlparse

from django.conf import settings

# boto3 is imported on the first S3 call (it takes ~0.8 s; most processes never list S3).


class S3Error(Exception):
    """Listing failed (bad credentials, missing bucket, unreachable endpoint)."""


@dataclass(frozen=True)
class S3Object:
    key: str
    size: int


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """'s3://bucket/some/prefix' → ('bucket', 'some/prefix/')."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise S3Error(f"not an s3:// URI: {uri}")
    prefix = parsed.path.lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return parsed.netloc, prefix


def _errors() -> tuple[type[BaseException], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def client():  # type: ignore[no-untyped-def]
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=settings.S3_ENDPOINT_URL or None,
        region_name=settings.S3_REGION or None,
        aws_access_key_id=settings.S3_ACCESS_KEY_ID or None,
        aws_secret_access_key=settings.S3_SECRET_ACCESS_KEY or None,
        config=Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 3}),
    )


def iter_objects(bucket: str, prefix: str = "", *, page_size: int = 1000) -> Iterator[S3Object]:
    """Every object under the prefix, page by page (list_objects_v2 with continuation tokens)."""
    try:
        paginator = client().get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": page_size}):
            for item in page.get("Contents", []) or []:
                yield S3Object(key=item["Key"], size=int(item.get("Size", 0)))
    except _errors() as exc:
        raise S3Error(f"listing s3://{bucket}/{prefix} failed: {exc}") from exc


def prefix_size(uri: str) -> tuple[int, int]:
    """(bytes, objects) under an s3:// prefix."""
    bucket, prefix = parse_s3_uri(uri)
    total = count = 0
    for obj in iter_objects(bucket, prefix):
        total += obj.size
        count += 1
    return total, count


def sizes_by_first_segment(uri: str) -> dict[str, int]:
    """Bytes per first path segment under the prefix (run id → bytes for an experiment location)."""
    bucket, prefix = parse_s3_uri(uri)
    sizes: dict[str, int] = {}
    for obj in iter_objects(bucket, prefix):
        segment = obj.key[len(prefix) :].split("/", 1)[0]
        sizes[segment] = sizes.get(segment, 0) + obj.size
    return sizes


# Test and bench helpers (buckets and objects on an S3-compatible server).
def create_bucket(bucket: str) -> None:
    try:
        client().create_bucket(Bucket=bucket)
    except _errors() as exc:
        raise S3Error(f"create bucket {bucket} failed: {exc}") from exc


def put_object(bucket: str, key: str, body: bytes) -> None:
    try:
        client().put_object(Bucket=bucket, Key=key, Body=body)
    except _errors() as exc:
        raise S3Error(f"put s3://{bucket}/{key} failed: {exc}") from exc


def put_text(uri: str, text: str) -> None:
    """Write `text` (UTF-8) to the object at s3://bucket/key. Raises S3Error."""
    bucket, key = parse_s3_uri(uri)
    try:
        client().put_object(Bucket=bucket, Key=key.rstrip("/"), Body=text.encode())
    except _errors() as exc:
        raise S3Error(f"writing {uri} failed: {exc}") from exc


def get_text(uri: str) -> str | None:
    """The object's text, or None when it does not exist. Raises S3Error for any other failure."""
    bucket, key = parse_s3_uri(uri)
    try:
        body = client().get_object(Bucket=bucket, Key=key.rstrip("/"))["Body"].read()
    except _errors() as exc:
        if getattr(exc, "response", {}).get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise S3Error(f"reading {uri} failed: {exc}") from exc
    return body.decode()
