"""Reading a streamed upload body: its media type, its digest, its lines, and the checks every line goes through.

A row of text for a staging table is (line number, parse error, the fields…); a parse error is "field|reason".
"""

import csv
import hashlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Literal

from services.common.errors import DomainError, FieldError, PayloadTooLarge, ValidationFailed
from services.common.settings import get_settings

Row = tuple[Any, ...]

CSV_TYPES = ("text/csv", "application/csv")
JSONL_TYPES = ("application/x-ndjson", "application/jsonl", "application/jsonlines", "application/x-jsonlines")


class UnsupportedMediaType(DomainError):
    status_code = 415
    title = "Unsupported media type"
    type_slug = "unsupported-media-type"


def body_format(content_type: str | None) -> Literal["csv", "jsonl"]:
    """The format of a body by its Content-Type; anything but CSV or JSON Lines is a 415."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media in CSV_TYPES:
        return "csv"
    if media in JSONL_TYPES:
        return "jsonl"
    raise UnsupportedMediaType(
        f"content type {media or '(none)'} is not accepted: send text/csv or application/x-ndjson",
        [FieldError("content-type", "expected text/csv or application/x-ndjson")],
    )


def stored_content_type(content_type: str | None) -> str:
    """The content type as a batch records it (its parameters left out)."""
    return (content_type or "").split(";")[0]


class Digest:
    """What an upload's bytes add up to as they pass: their SHA-256 and count; and the cap on a line, checked on
    every chunk before a parser buffers it, so that a line over `max_line` bytes is refused (413) once that many
    bytes of it have come, whatever its length. (The cap on the whole upload is the body limit's: errors.py.)"""

    def __init__(self, max_line: int | None = None) -> None:
        self.sha = hashlib.sha256()
        self.bytes = 0
        self.max_line = get_settings().bulk_max_line_bytes if max_line is None else max_line
        self._line = 0  # bytes of the line not ended yet

    def update(self, chunk: bytes) -> None:
        self.sha.update(chunk)
        self.bytes += len(chunk)
        first = chunk.find(b"\n")
        if first < 0:
            self._line += len(chunk)
        else:
            longest = self._line + first
            last = chunk.rfind(b"\n")
            if last - first - 1 > self.max_line:  # lines wholly inside this chunk: only a chunk this long can hold one
                longest = max(longest, *map(len, chunk[first + 1 : last].split(b"\n")))
            if longest > self.max_line:
                self._refuse()
            self._line = len(chunk) - last - 1
        if self._line > self.max_line:
            self._refuse()

    def _refuse(self) -> None:
        raise PayloadTooLarge(
            f"a line of the upload is longer than {self.max_line} bytes (the limit set by BULK_MAX_LINE_BYTES); "
            "nothing was stored",
            [FieldError("body", f"a line longer than {self.max_line} bytes", limit_bytes=self.max_line)],
            limit_bytes=self.max_line,
        )

    def hexdigest(self) -> str:
        return self.sha.hexdigest()


async def lines(stream: AsyncIterator[bytes], digest: Digest) -> AsyncIterator[list[tuple[int, bytes]]]:
    """Complete lines (without the line break) with their 1-based numbers, in blocks as the chunks arrive. A line's
    pieces are joined once, when its end comes (never re-copied chunk by chunk)."""
    pending: list[bytes] = []
    line_no = 0
    async for chunk in stream:
        if not chunk:
            continue
        digest.update(chunk)
        if b"\n" not in chunk:
            pending.append(chunk)
            continue
        pending.append(chunk)
        parts = b"".join(pending).split(b"\n")
        rest = parts.pop()
        pending = [rest] if rest else []
        block = []
        for part in parts:
            line_no += 1
            block.append((line_no, part[:-1] if part.endswith(b"\r") else part))
        if block:
            yield block
    rest = b"".join(pending)
    if rest:
        yield [(line_no + 1, rest[:-1] if rest.endswith(b"\r") else rest)]


def not_utf8(raw: bytes, exc: UnicodeDecodeError) -> str:
    """The parse error of a line that is not valid UTF-8."""
    return f"row|not valid UTF-8 (byte {exc.start + 1} of the line: 0x{raw[exc.start]:02x})"


def error_row(line_no: int, error: str, width: int) -> Row:
    """A staging row that carries only its parse error ("field|reason"), its `width` fields null."""
    return (line_no, error, *([None] * width))


def decode(line_no: int, raw: bytes, width: int) -> str | Row:
    """The line as text, or its error row when it is not valid UTF-8 or holds a NUL (Postgres text cannot)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return error_row(line_no, not_utf8(raw, exc), width)
    if "\x00" in text:
        return error_row(line_no, f"row|{NUL_REASON} (byte {raw.index(0) + 1} of the line)", width)
    return text


NUL_REASON = "contains the NUL character (U+0000), which cannot be stored"


def no_header() -> ValidationFailed:
    return ValidationFailed(
        "the body holds no CSV header; nothing was stored", [FieldError("body", "empty: a header line is required")]
    )


def header_not_utf8() -> ValidationFailed:
    return ValidationFailed(
        "the CSV header is not valid UTF-8; nothing was stored", [FieldError("header", "not valid UTF-8")]
    )


def csv_header(
    text: str,
    fields: Sequence[str],
    required: Sequence[str],
    more: Callable[[list[str]], list[FieldError]] | None = None,
) -> list[str]:
    """The column names of a CSV header line, refused (422) when one is unknown, missing or given twice. `more`
    adds an upload's own checks of the header, listed after the missing columns."""
    header = [h.strip() for h in next(csv.reader([text.lstrip("\ufeff")]))]
    errors = [FieldError(f"header.{h or '(empty)'}", "unknown column") for h in header if h not in fields]
    errors += [FieldError(f"header.{h}", "required column missing") for h in required if h not in header]
    if more is not None:
        errors += more(header)
    dup = {h for h in header if header.count(h) > 1}
    errors += [FieldError(f"header.{h}", "column given twice") for h in sorted(dup)]
    if errors:
        raise ValidationFailed("the CSV header is not usable; nothing was stored", errors)
    return header
