"""A streamed request body kept as it passes, to be read again from its first byte."""

import tempfile
from collections.abc import AsyncIterator


class Spool:
    """A streamed body kept as it passes, in a temporary file (in memory up to `in_memory` bytes, then on disk), so
    that it can be read again from the start: `passing()` hands the chunks on as they come, `again()` takes in what
    has not come yet and then gives the whole body from its first byte, `read_size` bytes at a time."""

    def __init__(self, stream: AsyncIterator[bytes], *, in_memory: int = 1 << 20, read_size: int = 1 << 20) -> None:
        self._stream = stream.__aiter__()
        self._file = tempfile.SpooledTemporaryFile(max_size=in_memory)
        self._read_size = read_size

    async def passing(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            self._file.write(chunk)
            yield chunk

    async def again(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            self._file.write(chunk)
        self._file.seek(0)
        while chunk := self._file.read(self._read_size):
            yield chunk

    def close(self) -> None:
        self._file.close()
