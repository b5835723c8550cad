"""boto3 clients with retries, and the one mapping of AWS failures onto restoredrill's errors.

boto3 is imported inside the functions here, never at module level, so `restoredrill --help`
and every non-AWS command stay fast. Credentials come only from boto3's normal chain
(environment, shared config, container/instance role); nothing here reads, prints or passes
them on.

Retries, in two layers:

- botocore's own retry modes (``standard`` or ``adaptive``, with a token-bucket rate limiter
  for throttling) retry throttling, 5xx and connection errors of an API call. How many times
  it retried is in each response's ``ResponseMetadata.RetryAttempts``; an ``after-call`` hook
  adds that to a :class:`RetryLog`.
- botocore does not retry a failure while *reading a response body* (a connection reset in
  the middle of a GetObject stream): :func:`retrying` retries such a whole download with
  exponential backoff and full jitter, and records it in the same log.

AccessDenied, NoSuchBucket and a wrong region are not retried (retrying cannot help): they
become :class:`~restoredrill.errors.CloudError` subclasses (exit 3) with a one-line message.
"""

from __future__ import annotations

import contextlib
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from restoredrill.errors import (
    CloudAccessDenied,
    CloudError,
    CloudNotFound,
    CloudWrongRegion,
    RestoreDrillError,
)

RetryMode = Literal["standard", "adaptive"]
T = TypeVar("T")

ACCESS_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "AllAccessDisabled",
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "UnrecognizedClientException",
        "AuthFailure",
        "UnauthorizedOperation",
    }
)
NOT_FOUND_CODES = frozenset(
    {
        "NoSuchBucket",
        "DBInstanceNotFound",
        "DBInstanceNotFoundFault",
        "DBSnapshotNotFound",
        "DBSnapshotNotFoundFault",
        "DBInstanceAutomatedBackupNotFound",
        "DBSubnetGroupNotFoundFault",
        "DBParameterGroupNotFound",
    }
)
REGION_CODES = frozenset(
    {"PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException"}
)
THROTTLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "SlowDown",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
    }
)


@dataclass(frozen=True)
class AwsConfig:
    """Where and how to call AWS. Region and endpoint default to boto3's own resolution
    (AWS_REGION / AWS_DEFAULT_REGION / config file; AWS_ENDPOINT_URL)."""

    region: str | None = None
    endpoint_url: str | None = None
    retry_mode: RetryMode = "adaptive"
    max_attempts: int = 8  # in all, the first attempt included
    connect_timeout: float = 10.0
    read_timeout: float = 60.0

    @classmethod
    def from_env(cls, region: str | None = None, endpoint_url: str | None = None) -> AwsConfig:
        return cls(
            region=region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
            endpoint_url=endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None,
        )


@dataclass
class RetryLog:
    """Retries seen across calls (thread-safe): botocore's and our own."""

    calls: int = 0
    retries: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, operation: str, retries: int) -> None:
        with self._lock:
            self.calls += 1
            if retries > 0:
                self.retries += retries
                self.by_operation[operation] = self.by_operation.get(operation, 0) + retries

    def summary(self) -> str | None:
        """'3 retries (GetObject 2, ListObjectsV2 1)' or None when nothing was retried."""
        with self._lock:
            if not self.retries:
                return None
            parts = ", ".join(f"{op} {n}" for op, n in sorted(self.by_operation.items()))
            plural = "y" if self.retries == 1 else "ies"
            return f"{self.retries} retr{plural} ({parts})"


def make_client(service: str, config: AwsConfig, log: RetryLog | None = None) -> Any:
    """A boto3 client with the retry mode set and retries recorded in ``log``."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(region_name=config.region)
    client = session.client(
        service,  # type: ignore[call-overload]
        endpoint_url=config.endpoint_url,
        config=Config(
            retries={"mode": config.retry_mode, "total_max_attempts": config.max_attempts},
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            max_pool_connections=32,
        ),
    )
    if log is not None:

        def after_call(parsed: dict[str, Any], model: Any, **_: Any) -> None:
            meta = parsed.get("ResponseMetadata") or {}
            log.record(str(model.name), int(meta.get("RetryAttempts") or 0))

        client.meta.events.register("after-call", after_call)
    return client


def _retryable_read_errors() -> tuple[type[BaseException], ...]:
    from botocore.exceptions import (
        ConnectionClosedError,
        EndpointConnectionError,
        IncompleteReadError,
        ReadTimeoutError,
        ResponseStreamingError,
    )
    from urllib3.exceptions import ProtocolError

    return (
        ResponseStreamingError,
        IncompleteReadError,
        ReadTimeoutError,
        ConnectionClosedError,
        EndpointConnectionError,
        ProtocolError,
        ConnectionResetError,
    )


def retrying(
    action: Callable[[], T],
    operation: str,
    log: RetryLog | None = None,
    attempts: int = 5,
    base_delay: float = 0.2,
    max_delay: float = 5.0,
) -> T:
    """Run ``action``; on a connection reset or truncated body (which botocore does not
    retry), back off (exponential, full jitter) and run it again. The action must be
    idempotent (a download into a temporary file that is renamed at the end)."""
    errors = _retryable_read_errors()
    for attempt in range(attempts):
        try:
            result = action()
        except errors:
            if attempt == attempts - 1:
                raise
            time.sleep(random.uniform(0, min(max_delay, base_delay * 2**attempt)))
            continue
        if log is not None and attempt:
            log.record(f"{operation} (body)", attempt)
        return result
    raise AssertionError("unreachable")


def translate(exc: BaseException, what: str, region: str | None = None) -> RestoreDrillError:
    """One line naming what failed and why; never credentials, never a stack trace."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
    )

    if isinstance(exc, ClientError):
        error: dict[str, Any] = dict(exc.response.get("Error") or {})
        meta: dict[str, Any] = dict(exc.response.get("ResponseMetadata") or {})
        code = str(error.get("Code") or "")
        status = int(meta.get("HTTPStatusCode") or 0)
        message = _one_line(str(error.get("Message") or ""))
        tried = int(meta.get("RetryAttempts") or 0)
        if code in ACCESS_CODES or status == 403:
            return CloudAccessDenied(
                f"{what}: access denied ({code or status}); check the credentials and the "
                f"drill-runner policy"
            )
        if code in NOT_FOUND_CODES or code.endswith("NotFound") or code.endswith("NotFoundFault"):
            return CloudNotFound(f"{what}: {code}" + (f" ({message})" if message else ""))
        if code in REGION_CODES or status == 301:
            headers = meta.get("HTTPHeaders") or {}
            actual = headers.get("x-amz-bucket-region") or error.get("Region") or "another region"
            return CloudWrongRegion(
                f"{what}: the bucket is in {actual}, not {region or 'the configured region'}; "
                f"pass --aws-region {actual}"
                if actual != "another region"
                else f"{what}: wrong region ({code}); pass the bucket's --aws-region"
            )
        if code in THROTTLE_CODES or status in (429, 503):
            return CloudError(f"{what}: throttled ({code or status}) after {tried} retries")
        if status >= 500:
            return CloudError(f"{what}: AWS server error {status} ({code}) after {tried} retries")
        return CloudError(f"{what}: {code or status}" + (f": {message}" if message else ""))
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return CloudAccessDenied(
            f"{what}: no usable AWS credentials (boto3 looks at the environment, the shared "
            f"config files and the instance or task role)"
        )
    if isinstance(exc, NoRegionError):
        return CloudWrongRegion(f"{what}: no AWS region configured; pass --aws-region")
    if isinstance(exc, EndpointConnectionError):
        return CloudError(f"{what}: cannot reach the endpoint ({_one_line(str(exc))})")
    if isinstance(exc, BotoCoreError):
        return CloudError(f"{what}: {_one_line(str(exc))}")
    return CloudError(f"{what}: {type(exc).__name__}: {_one_line(str(exc))}")


def _one_line(text: str, limit: int = 200) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= limit else first[: limit - 1] + "…"


def is_aws_error(exc: BaseException) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    return isinstance(exc, (ClientError, BotoCoreError, *_retryable_read_errors()))


@contextlib.contextmanager
def aws_errors(what: str, region: str | None = None) -> Iterator[None]:
    """Map botocore exceptions raised inside to restoredrill errors (exit 3)."""
    try:
        yield
    except RestoreDrillError:
        raise
    except Exception as exc:
        if is_aws_error(exc):
            raise translate(exc, what, region) from exc
        raise


def error_code(exc: BaseException) -> str | None:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        return str((exc.response.get("Error") or {}).get("Code") or "") or None
    return None
