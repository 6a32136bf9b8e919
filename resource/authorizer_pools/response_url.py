"""The ResponseURL: the only place an answer may go, checked before anything is sent there.

CloudFormation gives each request a pre-signed URL of an object in its response bucket for the
stack's Region, ``cloudformation-custom-resource-response-<region without dashes>``
(CloudFormation user guide, "Setting up VPC endpoints for CloudFormation": the bucket names a
VPC endpoint policy must allow; "Custom resource request objects": ``ResponseURL`` is "a
pre-signed S3 URL"). A forged event could name any host, port, path or scheme, and the function
would otherwise PUT its answer, reason included, there. So a URL is accepted only when it is:

- ``https``, on S3's default port, with no user information;
- that bucket in the function's own Region and partition, addressed as S3 addresses buckets
  (Amazon S3 user guide, "Virtual hosting of buckets" and "Path-style requests"): the bucket as
  the host's first label on ``s3``, ``s3.<region>``, ``s3-<region>`` or
  ``s3.dualstack.<region>``, or as the path's first segment on those hosts;
- pre-signed, and not expired: Signature Version 4 query authentication (``X-Amz-Algorithm``,
  ``-Credential``, ``-Date``, ``-Expires``, ``-SignedHeaders``, ``-Signature``; Amazon S3 API
  reference, "Authenticating Requests: Using Query Parameters") or the legacy Version 2
  (``AWSAccessKeyId``, ``Expires``, ``Signature``).

AWS does not document the host CloudFormation uses as a contract: ``make smoke`` sends real
requests through this check on an account.

The URL is a secret (anyone holding it can answer for the stack): ``ResponseUrl`` never shows it
in its ``repr``, and a refusal's message never quotes it.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

BUCKET_PREFIX = "cloudformation-custom-resource-response-"
# S3's domains per partition (AWS General Reference, "Amazon S3 endpoints").
_DOMAINS = {
    "aws": "amazonaws.com",
    "aws-us-gov": "amazonaws.com",
    "aws-cn": "amazonaws.com.cn",
}
_SIGV4 = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
)
_SIGV2 = ("AWSAccessKeyId", "Expires", "Signature")
# A pre-signed URL lives at most 7 days (X-Amz-Expires, in seconds).
_LONGEST_VALIDITY = 7 * 24 * 3600
# How far ahead of this function's clock a signing time may be before it cannot be CloudFormation's.
_CLOCK_SKEW = 15 * 60


class UrlRefused(ValueError):
    """Why a ResponseURL is not one CloudFormation issues; the message never quotes the URL."""


@dataclass(frozen=True)
class ResponseUrl:
    """A ResponseURL that passed :func:`verify`."""

    text: str = field(repr=False)
    host: str
    # When it was signed (SigV4's X-Amz-Date), in seconds since the epoch; None for SigV2.
    signed_at: float | None
    expires_at: float

    @property
    def shown(self) -> str:
        """What a log line may say of it: the host, never the key or the signature."""
        return f"https://{self.host}/…"

    def __str__(self) -> str:
        return self.shown


def verify(text: object, *, region: str, partition: str, now: float) -> ResponseUrl:
    """``text`` as a :class:`ResponseUrl`, or :class:`UrlRefused` saying what is wrong."""
    if not isinstance(text, str) or not text:
        raise UrlRefused("ResponseURL is missing or not a string")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise UrlRefused("ResponseURL is not a URL") from error
    if parts.scheme != "https":
        raise UrlRefused(f"ResponseURL's scheme is {parts.scheme or 'missing'!r}, not https")
    if parts.username is not None or parts.password is not None or port not in (None, 443):
        raise UrlRefused("ResponseURL names a user or a port: S3's answers take neither")
    host = (parts.hostname or "").lower()
    _require_bucket(host, parts.path, region, partition)
    expires_at, signed_at = _signature(parts.query, now)
    return ResponseUrl(text, host, signed_at, expires_at)


def bucket_for(region: str) -> str:
    return BUCKET_PREFIX + region.replace("-", "")


def _require_bucket(host: str, path: str, region: str, partition: str) -> None:
    domain = _DOMAINS.get(partition)
    if domain is None:
        raise UrlRefused(f"no S3 domain is known for partition {partition!r}")
    bucket = bucket_for(region)
    endpoints = (
        f"s3.{domain}",
        f"s3.{region}.{domain}",
        f"s3-{region}.{domain}",
        f"s3.dualstack.{region}.{domain}",
    )
    key = path.lstrip("/")
    if host in endpoints:  # path-style: the bucket is the first segment
        bucket_in_path, _, key = key.partition("/")
        if bucket_in_path != bucket:
            raise UrlRefused(f"ResponseURL is not in CloudFormation's response bucket {bucket}")
    elif host not in {f"{bucket}.{endpoint}" for endpoint in endpoints}:
        raise UrlRefused(
            f"ResponseURL's host {host!r} is not CloudFormation's response bucket {bucket} on S3"
        )
    if not key:
        raise UrlRefused("ResponseURL names no object")


def _signature(query: str, now: float) -> tuple[float, float | None]:
    """(when the URL expires, when it was signed or None) from its query authentication."""
    fields = parse_qs(query, keep_blank_values=True)
    if any(len(values) != 1 for values in fields.values()):
        raise UrlRefused("ResponseURL repeats a query parameter")
    given = {name: values[0] for name, values in fields.items()}
    if all(given.get(name) for name in _SIGV4):
        if given["X-Amz-Algorithm"] != "AWS4-HMAC-SHA256":
            raise UrlRefused("ResponseURL is not signed with AWS4-HMAC-SHA256")
        try:
            signed_at = float(calendar.timegm(time.strptime(given["X-Amz-Date"], "%Y%m%dT%H%M%SZ")))
            validity = int(given["X-Amz-Expires"])
        except (ValueError, OverflowError) as error:
            raise UrlRefused("ResponseURL's X-Amz-Date or X-Amz-Expires is malformed") from error
        if not 0 < validity <= _LONGEST_VALIDITY:
            raise UrlRefused("ResponseURL's X-Amz-Expires is out of S3's range")
        if signed_at > now + _CLOCK_SKEW:
            raise UrlRefused("ResponseURL is signed in the future")
        expires_at = signed_at + validity
        _require_unexpired(expires_at, now)
        return expires_at, signed_at
    if all(given.get(name) for name in _SIGV2):
        try:
            expires_at = float(int(given["Expires"]))
        except (ValueError, OverflowError) as error:
            raise UrlRefused("ResponseURL's Expires is malformed") from error
        if expires_at > now + _LONGEST_VALIDITY + _CLOCK_SKEW:
            raise UrlRefused("ResponseURL's Expires is further away than a pre-signed URL lives")
        _require_unexpired(expires_at, now)
        return expires_at, None
    raise UrlRefused("ResponseURL is not pre-signed")


def _require_unexpired(expires_at: float, now: float) -> None:
    if expires_at <= now:
        raise UrlRefused("ResponseURL has expired")
