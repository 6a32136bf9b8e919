"""Only CloudFormation's response bucket for the function's Region, pre-signed and not expired,
is ever called: every other URL an event may carry is refused before anything is sent."""

from __future__ import annotations

import time

import pytest

from authorizer_pools.response_url import ResponseUrl, UrlRefused, verify

# The fast tier (make test-fast): no local AWS, seconds in all.
pytestmark = pytest.mark.fast

NOW = 1_796_000_000.0
SIGNED = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(NOW - 60))
KEY = "arn%3Aaws%3Acloudformation%3Aus-east-1%3A123456789012%3Astack/t/1%7CReg%7Cabc"
SIGV4 = (
    f"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date={SIGNED}&X-Amz-SignedHeaders=host"
    "&X-Amz-Expires=7200&X-Amz-Credential=AKIA%2F20261204%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Signature=" + "ab" * 32
)
BUCKET = "cloudformation-custom-resource-response-useast1"


def checked(url: str, *, region: str = "us-east-1", partition: str = "aws") -> ResponseUrl:
    return verify(url, region=region, partition=partition, now=NOW)


@pytest.mark.parametrize(
    "url",
    [
        f"https://{BUCKET}.s3.amazonaws.com/{KEY}?{SIGV4}",
        f"https://{BUCKET}.s3.us-east-1.amazonaws.com/{KEY}?{SIGV4}",
        f"https://{BUCKET}.s3-us-east-1.amazonaws.com/{KEY}?{SIGV4}",
        f"https://{BUCKET}.s3.dualstack.us-east-1.amazonaws.com/{KEY}?{SIGV4}",
        f"https://s3.amazonaws.com/{BUCKET}/{KEY}?{SIGV4}",
        f"https://s3.us-east-1.amazonaws.com/{BUCKET}/{KEY}?{SIGV4}",
        f"https://{BUCKET}.s3.amazonaws.com:443/{KEY}?{SIGV4}",
        # The legacy signature, as CloudFormation's older URLs carried it.
        f"https://{BUCKET}.s3.amazonaws.com/{KEY}?AWSAccessKeyId=AKIA&Expires={int(NOW) + 600}"
        "&Signature=c2lnbmF0dXJl",
    ],
)
def test_cloudformations_response_bucket_is_accepted_as_s3_addresses_it(url: str) -> None:
    accepted = checked(url)
    assert accepted.text == url
    assert url.split("?")[1] not in repr(accepted)  # the signature never shows


def test_a_sigv4_url_says_when_it_was_signed_and_when_it_expires() -> None:
    accepted = checked(f"https://{BUCKET}.s3.amazonaws.com/{KEY}?{SIGV4}")
    assert accepted.signed_at == NOW - 60
    assert accepted.expires_at == NOW - 60 + 7200
    assert accepted.shown == f"https://{BUCKET}.s3.amazonaws.com/…"


def test_the_china_partition_has_its_own_domain() -> None:
    bucket = "cloudformation-custom-resource-response-cnnorth1"
    url = f"https://{bucket}.s3.cn-north-1.amazonaws.com.cn/{KEY}?{SIGV4}"
    assert checked(url, region="cn-north-1", partition="aws-cn").host.endswith(".com.cn")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        (f"http://{BUCKET}.s3.amazonaws.com/{KEY}?{SIGV4}", "scheme is 'http'"),
        (f"ftp://{BUCKET}.s3.amazonaws.com/{KEY}?{SIGV4}", "scheme is 'ftp'"),
        (f"https://{BUCKET}.s3.amazonaws.com:8443/{KEY}?{SIGV4}", "port"),
        (f"https://user:pw@{BUCKET}.s3.amazonaws.com/{KEY}?{SIGV4}", "user"),
        (f"https://attacker.example.com/{KEY}?{SIGV4}", "not CloudFormation's response bucket"),
        (f"https://localhost:8443/{KEY}?{SIGV4}", "port"),
        (f"https://127.0.0.1/{KEY}?{SIGV4}", "not CloudFormation's response bucket"),
        (f"https://169.254.169.254/latest/?{SIGV4}", "not CloudFormation's response bucket"),
        (f"https://{BUCKET}.s3.amazonaws.com.attacker.example/{KEY}?{SIGV4}", "host"),
        (f"https://my-bucket.s3.amazonaws.com/{KEY}?{SIGV4}", "host"),
        (f"https://s3.amazonaws.com/my-bucket/{KEY}?{SIGV4}", "not in CloudFormation's"),
        # Another Region's bucket: the function answers only requests of its own Region.
        (
            f"https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/{KEY}"
            f"?{SIGV4}",
            "host",
        ),
        (f"https://{BUCKET}.s3.amazonaws.com/?{SIGV4}", "names no object"),
        (f"https://{BUCKET}.s3.amazonaws.com/{KEY}", "not pre-signed"),
        (f"https://{BUCKET}.s3.amazonaws.com/{KEY}?X-Amz-Signature=ab", "not pre-signed"),
        (
            f"https://{BUCKET}.s3.amazonaws.com/{KEY}?{SIGV4.replace('7200', '60')}",
            "expired",
        ),
        (
            f"https://{BUCKET}.s3.amazonaws.com/{KEY}?AWSAccessKeyId=A&Expires={int(NOW) - 1}"
            "&Signature=x",
            "expired",
        ),
        (f"https://{BUCKET}.s3.amazonaws.com/{KEY}?{SIGV4}&X-Amz-Date=20260101T000000Z", "repeats"),
        (
            f"https://{BUCKET}.s3.amazonaws.com/{KEY}?AWSAccessKeyId=A&Expires=1{'0' * 400}"
            "&Signature=x",
            "Expires is malformed",
        ),
        (
            f"https://{BUCKET}.s3.amazonaws.com/{KEY}?AWSAccessKeyId=A&Expires={int(NOW) + 10**7}"
            "&Signature=x",
            "further away",
        ),
        (f"https://{BUCKET}.s3.amazonaws.com/{KEY}?{SIGV4.replace('=7200', '=9' * 400)}", "X-Amz"),
        ("", "missing"),
        ("not a url at all", "scheme"),
    ],
)
def test_any_other_url_is_refused_saying_why_without_quoting_it(url: str, why: str) -> None:
    with pytest.raises(UrlRefused, match=why) as refused:
        checked(url)
    assert "ab" * 32 not in str(refused.value)
    assert KEY not in str(refused.value)


def test_a_url_signed_in_the_future_is_not_cloudformations() -> None:
    future = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(NOW + 3600))
    with pytest.raises(UrlRefused, match="future"):
        checked(f"https://{BUCKET}.s3.amazonaws.com/{KEY}?{SIGV4.replace(SIGNED, future)}")


def test_a_partition_without_a_known_s3_domain_is_refused() -> None:
    with pytest.raises(UrlRefused, match="partition"):
        checked(f"https://{BUCKET}.s3.amazonaws.com/{KEY}?{SIGV4}", partition="aws-iso")
