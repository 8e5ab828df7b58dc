"""Attachments: streamed in, checked by their first bytes and their size, kept in Postgres or on disk with their
checksum, read back by the uploading organisation, the ministry roles and the auditor only."""

import hashlib
import io
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.attachments.sniff import DOCX, ODT, XLSX
from services.common.auth import Role
from services.common.settings import get_settings
from tests.auth import Auth
from tests.conftest import bind_app

URL = "/api/v1/attachments"
KAZAKH_NAME = "Есеп 2026 ж. (түпнұсқа) «Өңір».pdf"
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 1200 + b"\n%%EOF\n"  # about 300 KiB: more than one stored chunk
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Set attachment settings for one test (the settings are read again; restored afterwards)."""

    def setting(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    yield setting
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
async def client(loaded: None, session: AsyncSession, raw_connection: Any) -> AsyncIterator[AsyncClient]:
    """The API built after the test's settings (its body caps are read when the app is made)."""
    from services.api.main import create_app

    app = create_app()
    bind_app(app, session, raw_connection)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://api.test") as c:
        c.app = app  # type: ignore[attr-defined]
        yield c


async def _organisations(raw_connection: Any) -> list[int]:
    rows = await raw_connection.fetch("SELECT id FROM organisation ORDER BY id LIMIT 2")
    return [r["id"] for r in rows]


async def _counts(raw_connection: Any) -> tuple[int, int]:
    attachments = await raw_connection.fetchval("SELECT count(*) FROM attachment")
    chunks = await raw_connection.fetchval("SELECT count(*) FROM attachment_chunk")
    return int(attachments), int(chunks)


def _upload(client: AsyncClient, body: Any, media_type: str, headers: dict[str, str], name: str = KAZAKH_NAME) -> Any:
    return client.post(URL, params={"filename": name}, content=body, headers={**headers, "Content-Type": media_type})


async def test_round_trip_in_postgres_with_checksum_kazakh_name_scope_and_audit(
    client: AsyncClient, auth: Auth, raw_connection: Any
) -> None:
    own, other = await _organisations(raw_connection)
    executor = auth.headers(Role.executor, organisation=own)
    created = await _upload(client, PDF, "application/pdf", executor)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["sha256"] == hashlib.sha256(PDF).hexdigest() and body["size"] == len(PDF)
    assert body["media_type"] == "application/pdf" and body["filename"] == KAZAKH_NAME
    assert body["organisation_id"] == own
    assert created.headers["location"] == f"{URL}/{body['id']}"
    assert await raw_connection.fetchval("SELECT store FROM attachment WHERE id = $1", body["id"]) == "postgres"
    assert await raw_connection.fetchval("SELECT count(*) FROM attachment_chunk") == 2  # 256 KiB chunks

    got = await client.get(f"{URL}/{body['id']}", headers=executor)
    assert got.status_code == 200
    assert got.content == PDF and hashlib.sha256(got.content).hexdigest() == body["sha256"]
    assert got.headers["etag"] == f'"{body["sha256"]}"'
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"] == (
        f"attachment; filename=\"____ 2026 _. (________) ______.pdf\"; filename*=UTF-8''{quote(KAZAKH_NAME, safe='')}"
    )
    assert "%D0%95%D1%81%D0%B5%D0%BF" in got.headers["content-disposition"]  # Есеп
    again = await client.get(f"{URL}/{body['id']}", headers={**executor, "If-None-Match": got.headers["etag"]})
    assert again.status_code == 304

    # The ministry roles and the auditor read it; another organisation does not see it; a provider may not ask.
    for role in (Role.ministry_reviewer, Role.ministry_admin, Role.auditor):
        assert (await client.get(f"{URL}/{body['id']}", headers=auth.headers(role))).content == PDF
    stranger = auth.headers(Role.executor, organisation=other, subject="other-executor")
    assert (await client.get(f"{URL}/{body['id']}", headers=stranger)).status_code == 404
    assert (await client.get(f"{URL}/{body['id']}/meta", headers=stranger)).status_code == 404
    assert (
        await client.get(f"{URL}/{body['id']}", headers=auth.headers(Role.provider, organisation=own))
    ).status_code == 403
    assert (await client.get(f"{URL}/999999999", headers=executor)).status_code == 404
    meta = await client.get(f"{URL}/{body['id']}/meta", headers=executor)
    assert meta.json()["sha256"] == body["sha256"]

    audit = await raw_connection.fetchrow(
        "SELECT action, after FROM audit_log WHERE resource = 'attachment' AND resource_id = $1", str(body["id"])
    )
    assert audit["action"] == "create" and audit["after"]["sha256"] == body["sha256"]


async def test_the_content_must_be_what_content_type_says(client: AsyncClient, auth: Auth, raw_connection: Any) -> None:
    (own, _) = await _organisations(raw_connection)
    executor = auth.headers(Role.executor, organisation=own)
    png_as_pdf = await _upload(client, PNG, "application/pdf", executor, "scan.pdf")
    assert png_as_pdf.status_code == 415, png_as_pdf.text
    assert png_as_pdf.json()["errors"] == [{"field": "body", "reason": "not application/pdf by its content"}]
    text = await _upload(client, b"hello", "text/plain", executor, "note.txt")
    assert text.status_code == 415 and "application/pdf" in text.json()["accepted"]
    exe = await _upload(client, b"MZ\x90\x00" + b"\x00" * 70000, "image/jpeg", executor, "photo.jpg")
    assert exe.status_code == 415
    assert await _counts(raw_connection) == (0, 0)
    png = await _upload(client, PNG, "image/png; charset=binary", executor, "scan.png")
    assert png.status_code == 201 and png.json()["media_type"] == "image/png"


def _zip(entries: list[tuple[str, bytes]], stored_first: bool = False) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for i, (name, data) in enumerate(entries):
            method = zipfile.ZIP_STORED if stored_first and i == 0 else zipfile.ZIP_DEFLATED
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return out.getvalue()


async def test_office_documents_by_their_parts(client: AsyncClient, auth: Auth, raw_connection: Any) -> None:
    (own, _) = await _organisations(raw_connection)
    executor = auth.headers(Role.executor, organisation=own)
    docx = _zip([("[Content_Types].xml", b"<Types/>"), ("_rels/.rels", b"<r/>"), ("word/document.xml", b"<w/>")])
    xlsx = _zip([("[Content_Types].xml", b"<Types/>"), ("xl/workbook.xml", b"<x/>")])
    odt = _zip([("mimetype", ODT.encode()), ("content.xml", b"<o/>")], stored_first=True)
    assert (await _upload(client, docx, DOCX, executor, "акт.docx")).status_code == 201
    assert (await _upload(client, xlsx, XLSX, executor, "кесте.xlsx")).status_code == 201
    assert (await _upload(client, odt, ODT, executor, "акт.odt")).status_code == 201
    assert (await _upload(client, docx, XLSX, executor, "кесте.xlsx")).status_code == 415
    assert (await _upload(client, xlsx, ODT, executor, "акт.odt")).status_code == 415
    assert (await _upload(client, b"PK\x03\x04" + b"\x00" * 50, DOCX, executor, "bad.docx")).status_code == 415


async def test_too_big_is_refused_with_nothing_stored(
    settings_env: Any, auth: Auth, raw_connection: Any, loaded: None, session: AsyncSession
) -> None:
    settings_env(ATTACHMENT_MAX_BYTES="100000", MAX_BODY_BYTES="1000")
    from services.api.main import create_app

    app = create_app()
    bind_app(app, session, raw_connection)
    (own, _) = await _organisations(raw_connection)
    executor = auth.headers(Role.executor, organisation=own)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://api.test") as client:
        declared = await _upload(client, PDF, "application/pdf", executor)  # Content-Length over the cap
        assert declared.status_code == 413, declared.text
        assert declared.json()["limit_bytes"] == 100000

        async def chunked() -> AsyncIterator[bytes]:
            for start in range(0, len(PDF), 10000):
                yield PDF[start : start + 10000]

        streamed = await _upload(client, chunked(), "application/pdf", executor)  # no Content-Length
        assert streamed.status_code == 413, streamed.text
        assert await _counts(raw_connection) == (0, 0)
        # Its own cap, not MAX_BODY_BYTES: a 50 kB file goes in.
        small = PDF[:50000]
        fits = await _upload(client, small, "application/pdf", executor)
        assert fits.status_code == 201, fits.text
        assert fits.json()["sha256"] == hashlib.sha256(small).hexdigest()


async def _disconnecting_upload(app: Any, headers: dict[str, str], first: bytes) -> list[dict[str, Any]]:
    """POST the first part of a body, then go away (as a client whose connection drops)."""
    messages = [{"type": "http.request", "body": first, "more_body": True}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": URL,
        "raw_path": URL.encode(),
        "query_string": b"filename=cut.pdf",
        "root_path": "",
        "headers": [(b"host", b"api.test"), (b"content-type", b"application/pdf")]
        + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("api.test", 80),
    }
    await app(scope, receive, send)
    return sent


async def test_a_client_going_away_mid_upload_leaves_nothing_in_postgres(
    client: AsyncClient, auth: Auth, raw_connection: Any
) -> None:
    (own, _) = await _organisations(raw_connection)
    executor = await auth.headers(Role.executor, organisation=own)
    sent = await _disconnecting_upload(client.app, executor, PDF)  # type: ignore[attr-defined]
    assert sent[0]["status"] == 400
    assert await _counts(raw_connection) == (0, 0)


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


async def test_the_disk_store_content_addressed_and_clean_after_a_disconnect(
    settings_env: Any, tmp_path: Path, auth: Auth, raw_connection: Any, loaded: None, session: AsyncSession
) -> None:
    settings_env(ATTACHMENT_STORE="disk", ATTACHMENT_DIR=str(tmp_path))
    from services.api.main import create_app

    app = create_app()
    bind_app(app, session, raw_connection)
    (own, _) = await _organisations(raw_connection)
    executor = await auth.headers(Role.executor, organisation=own)
    sent = await _disconnecting_upload(app, executor, PDF)
    assert sent[0]["status"] == 400
    assert await _counts(raw_connection) == (0, 0)
    assert _files(tmp_path) == []

    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://api.test") as client:
        first = await _upload(client, PDF, "application/pdf", executor, "бірінші.pdf")
        second = await _upload(client, PDF, "application/pdf", executor, "екінші.pdf")
        assert first.status_code == second.status_code == 201
        sha = hashlib.sha256(PDF).hexdigest()
        assert first.json()["sha256"] == second.json()["sha256"] == sha
        assert first.json()["id"] != second.json()["id"]
        files = _files(tmp_path)
        assert files == [tmp_path / sha[:2] / sha[2:4] / sha]  # one file for the same bytes, no temporary left
        assert files[0].read_bytes() == PDF
        assert await _counts(raw_connection) == (2, 0)
        got = await client.get(f"{URL}/{second.json()['id']}", headers=executor)
        assert got.content == PDF and got.headers["etag"] == f'"{sha}"'
        assert got.headers["content-disposition"].endswith("filename*=UTF-8''" + quote("екінші.pdf", safe=""))
