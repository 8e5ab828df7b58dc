"""Where attachments' bytes are kept: one interface, two stores, chosen by ATTACHMENT_STORE.

    store = store_for_writing(session)            # the configured one
    stored = await store.put(chunks)              # -> Stored(key, sha256, size)
    async for chunk in store_named(row.store, session).open(row.key): ...

* `PostgresStore`: the bytes as numbered chunks (`attachment_chunk`) under a fresh key, written in the request's own
  transaction: an upload that fails, or whose client goes away, leaves nothing, as its rows roll back with it.
* `DiskStore`: a file under ATTACHMENT_DIR named by its SHA-256 (`ab/cd/abcd…`), written to a temporary file in the same
  directory tree first and renamed into place once complete: a reader never sees half a file, and an upload that fails
  removes its temporary file. The same content uploaded twice is stored once (the second rename replaces the first with
  the same bytes). A file renamed into place whose transaction then fails to commit stays, unreferenced: harmless,
  and it serves the next upload of the same bytes.

There is no delete: attachments are evidence filed with reports.
"""

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.models.attachments import AttachmentChunk
from services.common.settings import get_settings

CHUNK_BYTES = 256 * 1024


@dataclass(frozen=True)
class Stored:
    key: str
    sha256: str
    size: int


class AttachmentStore(Protocol):
    name: str

    async def put(self, stream: AsyncIterator[bytes]) -> Stored:
        """Keep the bytes of `stream`, never holding them whole in memory; an exception from the stream leaves
        nothing behind and goes on."""
        ...

    def open(self, key: str) -> AsyncIterator[bytes]:
        """The bytes kept under `key`, chunk by chunk."""
        ...


class PostgresStore:
    name = "postgres"

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def put(self, stream: AsyncIterator[bytes]) -> Stored:
        key = uuid.uuid4().hex
        digest = hashlib.sha256()
        size = 0
        seq = 0
        pending = bytearray()
        async for chunk in stream:
            digest.update(chunk)
            size += len(chunk)
            pending += chunk
            while len(pending) >= CHUNK_BYTES:
                await self._write(key, seq, bytes(pending[:CHUNK_BYTES]))
                del pending[:CHUNK_BYTES]
                seq += 1
        if pending or seq == 0:
            await self._write(key, seq, bytes(pending))
        return Stored(key=key, sha256=digest.hexdigest(), size=size)

    async def _write(self, key: str, seq: int, data: bytes) -> None:
        await self.session.execute(insert(AttachmentChunk).values(key=key, seq=seq, data=data))

    async def open(self, key: str) -> AsyncIterator[bytes]:
        seq = 0
        while True:
            data = await self.session.scalar(
                select(AttachmentChunk.data).where(AttachmentChunk.key == key, AttachmentChunk.seq == seq)
            )
            if data is None:
                return
            if data:
                yield data
            seq += 1


class DiskStore:
    name = "disk"

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
            raise ValueError(f"not a SHA-256 key: {key!r}")
        return self.root / key[:2] / key[2:4] / key

    async def put(self, stream: AsyncIterator[bytes]) -> Stored:
        incoming = self.root / "incoming"
        await asyncio.to_thread(incoming.mkdir, parents=True, exist_ok=True)
        temporary = incoming / f"{uuid.uuid4().hex}.part"
        digest = hashlib.sha256()
        size = 0
        file = await asyncio.to_thread(temporary.open, "xb")
        try:
            try:
                async for chunk in stream:
                    digest.update(chunk)
                    size += len(chunk)
                    await asyncio.to_thread(file.write, chunk)
                await asyncio.to_thread(_flush, file)
            finally:
                await asyncio.to_thread(file.close)
            key = digest.hexdigest()
            final = self.path(key)
            await asyncio.to_thread(final.parent.mkdir, parents=True, exist_ok=True)
            await asyncio.to_thread(os.replace, temporary, final)
        except BaseException:
            await asyncio.to_thread(temporary.unlink, missing_ok=True)
            raise
        return Stored(key=key, sha256=key, size=size)

    async def open(self, key: str) -> AsyncIterator[bytes]:
        file = await asyncio.to_thread(self.path(key).open, "rb")
        try:
            while chunk := await asyncio.to_thread(file.read, CHUNK_BYTES):
                yield chunk
        finally:
            await asyncio.to_thread(file.close)


def _flush(file: BinaryIO) -> None:
    file.flush()
    os.fsync(file.fileno())


def store_named(name: str, session: AsyncSession) -> AttachmentStore:
    """The store an attachment's bytes were kept in (its row's `store`)."""
    if name == "disk":
        return DiskStore(get_settings().attachment_dir)
    if name == "postgres":
        return PostgresStore(session)
    raise ValueError(f"unknown attachment store {name!r}")


def store_for_writing(session: AsyncSession) -> AttachmentStore:
    """The store new attachments go to (ATTACHMENT_STORE)."""
    return store_named(get_settings().attachment_store, session)
