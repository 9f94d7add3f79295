"""The process pool a scan starts, with workers that leave their parent's connections alone.

A worker forked from a process that has read object storage inherits that
process's fsspec filesystems (with their open HTTP connections) and the
``epoll`` instance of fsspec's event loop, which fork shares rather than
copies. fsspec makes a new filesystem on its first use in a new process and
drops the inherited one; its finalizer then closes the inherited connections
through the inherited loop, and so removes the parent's sockets from the
shared ``epoll``. The parent's next request on such a connection (the listing
of the next scan, in a notebook) never hears its answer and waits for the
read timeout: 15 s with s3fs, on every scan after the first. It also printed
``Task exception was never retrieved ... attached to a different loop``.

Each worker therefore starts by freezing what it inherited (``gc.freeze``: the
parent's dropped filesystems, garbage in reference cycles, are never collected
in the worker, so their finalizers never run; the pages stay shared) and by
putting ``/dev/null`` in place of every inherited ``epoll`` descriptor, so that
nothing the worker does can reach the parent's event loops.
"""

from __future__ import annotations

import gc
import os
from concurrent.futures import ProcessPoolExecutor

__all__ = ["process_pool"]


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes that cannot disturb this process's open connections."""
    return ProcessPoolExecutor(max_workers=workers, initializer=_leave_parent_alone)


def _leave_parent_alone() -> None:
    """Run first in each worker (see the module's docstring)."""
    gc.freeze()
    _close_inherited_epolls()


def _close_inherited_epolls() -> None:
    """Put ``/dev/null`` in place of each ``epoll`` descriptor (Linux; a spawned worker has none)."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        for name in names:
            try:
                if os.readlink(f"/proc/self/fd/{name}") == "anon_inode:[eventpoll]":
                    os.dup2(null, int(name))  # the number stays taken: no later descriptor can be mistaken for it
            except OSError:
                continue  # closed meanwhile (the listing's own descriptor)
    finally:
        os.close(null)
