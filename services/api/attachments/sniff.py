"""What a file is, by its own first bytes: the declared Content-Type must agree with them (415 otherwise).

PDF, PNG and JPEG open with a signature of their own. The office formats are ZIP archives (`PK\\x03\\x04`):
an OpenDocument file's first entry is an uncompressed `mimetype` naming its type (ODF 1.2, part 3, 3.3); an Office Open
XML file holds a `word/` (docx) or `xl/` (xlsx) part, whose name appears among the local file headers of the
archive's first bytes (where Word, Excel, LibreOffice and the usual libraries put `[Content_Types].xml`, `_rels/` and
the main part).
"""

ZIP = b"PK\x03\x04"
HEAD_BYTES = 64 * 1024  # how much of a file's start is looked at

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ODT = "application/vnd.oasis.opendocument.text"
ODS = "application/vnd.oasis.opendocument.spreadsheet"


def _opendocument(head: bytes, media_type: str) -> bool:
    named = head[38 : 38 + len(media_type)]
    return head.startswith(ZIP) and head[30:38] == b"mimetype" and named == media_type.encode()


def _ooxml(head: bytes, part: bytes) -> bool:
    return head.startswith(ZIP) and b"[Content_Types].xml" in head and part in head


SIGNATURES = {
    "application/pdf": lambda head: head.startswith(b"%PDF-"),
    "image/png": lambda head: head.startswith(b"\x89PNG\r\n\x1a\n"),
    "image/jpeg": lambda head: head.startswith(b"\xff\xd8\xff"),
    DOCX: lambda head: _ooxml(head, b"word/"),
    XLSX: lambda head: _ooxml(head, b"xl/"),
    ODT: lambda head: _opendocument(head, ODT),
    ODS: lambda head: _opendocument(head, ODS),
}


def known(media_type: str) -> bool:
    return media_type in SIGNATURES


def agrees(media_type: str, head: bytes) -> bool:
    """Whether a file starting with `head` (its first HEAD_BYTES, or all of a shorter one) is of `media_type`."""
    check = SIGNATURES.get(media_type)
    return bool(check and check(head))
