"""The one teardown rule every throwaway instance follows."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Protocol, TypeVar


class Throwaway(Protocol):
    def provision(self) -> None: ...

    def destroy(self) -> None: ...

    def is_running(self) -> bool: ...

    def keep(self) -> None: ...


T = TypeVar("T", bound=Throwaway)


@contextlib.contextmanager
def throwaway(sandbox: T, keep: bool) -> Iterator[T]:
    """Provision ``sandbox`` and yield it; it is destroyed on any exit — error, Ctrl-C,
    SIGTERM (raised as Interrupted) — unless ``keep`` and it is still running. Provisioning
    happens inside, so a signal half-way through it still cleans up."""
    try:
        sandbox.provision()
        yield sandbox
    except BaseException:
        sandbox.destroy()
        raise
    if keep and sandbox.is_running():
        sandbox.keep()
    else:
        sandbox.destroy()
