"""Scan one file: read it safely, prefilter its bytes, detect sites; every failure becomes a
reason, never an exception. Runs inside worker processes, so it only returns plain picklable data.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from id_monitor.scan.detect import Site, detect
from id_monitor.scan.targets import Targets


@dataclass(frozen=True, slots=True)
class FileScan:
    rel: str
    sites: tuple[Site, ...] = ()
    parsed: bool = False  # False: the prefilter showed no site can be here
    reason: str | None = None  # set when skipped
    detail: str | None = None


def read_bytes(path: str, max_bytes: int) -> bytes:
    """Read a regular file of at most `max_bytes`. O_NONBLOCK so that a file swapped for a FIFO
    after the walk cannot block us; the type is re-checked on the open descriptor."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _Skip("not_a_file", "not a regular file, not read")
        if st.st_size > max_bytes:
            raise _Skip("too_large", f"{st.st_size} bytes > max-file-bytes {max_bytes} (generated?)")
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(fd, max(st.st_size + 1, 65536)):
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:
                raise _Skip("too_large", f"more than max-file-bytes {max_bytes} bytes (grew while read)")
        return b"".join(chunks)
    finally:
        os.close(fd)


class _Skip(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def scan_file(path: str, rel: str, targets: Targets, max_bytes: int) -> FileScan:
    try:
        data = read_bytes(path, max_bytes)
    except _Skip as skip:
        return FileScan(rel, reason=skip.reason, detail=skip.detail)
    except OSError as exc:
        return FileScan(rel, reason="unreadable", detail=exc.strerror or str(exc))
    if not targets.may_contain(data):
        return FileScan(rel)
    try:
        sites = detect(data, targets, rel)
    except SyntaxError as exc:
        return FileScan(rel, parsed=True, reason=_syntax_reason(exc), detail=_syntax_detail(exc, data, targets))
    except ValueError as exc:  # e.g. null bytes in the source
        return FileScan(rel, parsed=True, reason="syntax_error", detail=f"{exc}{_mentions(data, targets)}")
    except (RecursionError, MemoryError):
        return FileScan(rel, parsed=True, reason="too_complex", detail=f"nesting too deep to analyse{_mentions(data, targets)}")
    return FileScan(rel, tuple(sites), parsed=True)


def _syntax_reason(exc: SyntaxError) -> str:
    text = str(exc.msg or "")
    if "codec can't decode" in text or "unicode error" in text or isinstance(exc.__cause__, UnicodeDecodeError):
        return "decode_error"
    return "syntax_error"


_PY2_HINTS = ("Missing parentheses in call to 'print'", "Missing parentheses in call to 'exec'",
              "leading zeros in decimal integer", "multiple exception types must be parenthesized")


def _syntax_detail(exc: SyntaxError, data: bytes, targets: Targets) -> str:
    message = exc.msg or "invalid syntax"
    where = f"line {exc.lineno}: " if exc.lineno else ""
    hint = " (Python 2 code?)" if any(h in message for h in _PY2_HINTS) or b"print " in data and "print" in message else ""
    return f"{where}{message}{hint}{_mentions(data, targets)}"


def _mentions(data: bytes, targets: Targets) -> str:
    """How many lines spell a target name: what a reviewer must check by hand in a skipped file."""
    lines = sum(1 for line in data.splitlines() if any(name in line for name in targets.last_names))
    return f"; {lines} line(s) mention {'/'.join(n.decode() for n in targets.last_names)}, not analysed" if lines else ""
