"""Reading NDJSON history files, plain or gzip-compressed (by the `.gz` extension).

Lines are yielded as raw bytes with their 1-based line number, so a line that fails to decode can
be dead-lettered with its exact origin; blank lines (a trailing newline) are skipped.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO


def iter_lines(path: Path) -> Iterator[tuple[int, bytes, int]]:
    """(line number, line without its newline, compressed bytes read so far) per non-blank line.

    The position counts bytes of the file on disk, so a progress bar over file sizes stays
    honest for compressed input.
    """
    with path.open("rb") as disk:
        if path.name.endswith(".gz"):
            with gzip.GzipFile(fileobj=disk, mode="rb") as stream:
                yield from _numbered(stream, disk)
        else:
            yield from _numbered(disk, disk)


def _numbered(stream: Iterable[bytes], disk: IO[bytes]) -> Iterator[tuple[int, bytes, int]]:
    for number, line in enumerate(stream, start=1):
        raw = line.rstrip(b"\r\n")
        if raw.strip():
            yield number, raw, disk.tell()


def total_size(paths: list[Path]) -> int:
    """Bytes on disk of all the files (the progress bar's total)."""
    return sum(path.stat().st_size for path in paths)
