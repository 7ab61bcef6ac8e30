"""The reconciler's typed errors: temporary ones are retried with backoff, permanent ones are
reported as a `Degraded` condition and not retried until the spec changes."""

from __future__ import annotations


class ReconcileError(Exception):
    """Base of every error a reconcile pass can hit."""


class TemporaryError(ReconcileError):
    """Worth retrying: 5xx, 429, timeouts, lost connections, optimistic-concurrency conflicts."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(ReconcileError):
    """Retrying the same request cannot help: the apiserver refused what we sent."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class Conflict(TemporaryError):
    """409: someone else changed the object or it already exists; re-read and try again."""


class Gone(ReconcileError):
    """410: a watch's resourceVersion is too old; list again."""


class NotLeader(ReconcileError):
    """This replica lost (or never had) the lease; it must not write."""


class MissingCRDs(ReconcileError):
    """The cluster does not serve procplane's custom resources: nothing can be reconciled until an
    operator installs the CRDs, so the reconciler refuses to start rather than retry forever."""
