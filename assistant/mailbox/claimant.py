"""Who holds a claimed reply: a token naming this run of this process on this machine,
and the test of whether the process a token names is gone (so its claim can be taken
back at once rather than when its lease runs out)."""

from __future__ import annotations

import os
import socket
import uuid
from functools import lru_cache


@lru_cache(maxsize=1)
def sender_token() -> str:
    """This process, as a claim names it: host, pid and the pid's start time (a pid the
    system reuses for another process is not mistaken for us)."""
    return (
        f"{socket.gethostname()[:50]}:{os.getpid()}:{_start_time(os.getpid())}:"
        f"{_boot_id()}:{uuid.uuid4().hex[:8]}"
    )


def _boot_id() -> str:
    """This boot of this machine (a container with the host's name is another one)."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as boot:
            boot_id = boot.read().strip()[:8]
        return f"{boot_id}-{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return "0"


def _start_time(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "0"


def claimant_gone(token: str | None) -> bool:
    """A claim by a process of this machine that no longer runs (killed, crashed)."""
    if not token:
        return True
    host, pid, started, boot, *_ = (token.split(":") + ["", "", "", ""])[:5]
    if host != socket.gethostname()[:50] or not pid.isdigit() or boot != _boot_id():
        return False  # another machine's (or container's): its lease decides
    return _start_time(int(pid)) != started if started != "0" else not _alive(int(pid))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
