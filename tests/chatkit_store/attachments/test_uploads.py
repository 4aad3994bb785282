"""stream_into: the bytes of an upload checked on their way into storage (a real DiskBlobs
directory): the size limit, the declared size (binding), empty files and content that is not
the declared kind are refused with nothing kept."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import pytest

from chatkit_store.attachments.blobs import DiskBlobs
from chatkit_store.attachments.kinds import KINDS
from chatkit_store.attachments.uploads import stream_into
from docsdesk.core.errors import ApiError
from tests.support.files import png_bytes

ID = "atc_" + "0123456789abcdef" * 2


class Body:
    """An UploadedFile whose bytes arrive in pieces of `piece` bytes."""

    def __init__(self, data: bytes, piece: int = 7) -> None:
        self.data, self.piece = data, piece
        self.filename, self.content_type = "image.png", "image/png"

    async def open(self) -> None:
        return None

    async def chunks(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.data), self.piece):
            yield self.data[start : start + self.piece]


def blobs(tmp_path) -> DiskBlobs:
    disk = DiskBlobs(tmp_path)
    disk.prepare()
    return disk


def kept(disk: DiskBlobs) -> list[str]:
    return sorted(p.name for p in disk.root.rglob("*") if p.is_file())


async def test_a_good_upload_is_stored_with_its_size_and_digest(tmp_path):
    disk, image = blobs(tmp_path), png_bytes()
    size, sha256 = await stream_into(disk.writer(ID), Body(image), KINDS["png"], 10_000, declared=len(image))
    assert (size, sha256) == (len(image), hashlib.sha256(image).hexdigest())
    assert disk.path(ID).read_bytes() == image


@pytest.mark.parametrize(
    ("data", "max_bytes", "declared", "status", "code"),
    [
        (png_bytes(40, 40), 100, None, 413, "attachment_too_large"),
        (png_bytes(), 10_000, 10, 413, "attachment_larger_than_declared"),
        (b"", 10_000, None, 400, "empty_file"),
        (b"%PDF-1.4 not an image at all" * 4, 10_000, None, 415, "attachment_content_mismatch"),
    ],
    ids=["over-the-limit", "over-the-declared-size", "empty", "not-the-declared-kind"],
)
async def test_a_refused_upload_keeps_nothing(tmp_path, data, max_bytes, declared, status, code):
    disk = blobs(tmp_path)
    with pytest.raises(ApiError) as refused:
        await stream_into(disk.writer(ID), Body(data), KINDS["png"], max_bytes, declared)
    assert (refused.value.status, refused.value.code) == (status, code)
    assert kept(disk) == []
