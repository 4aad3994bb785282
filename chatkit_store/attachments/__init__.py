"""Attachments: their bytes (PostgreSQL or a directory), uploads (two-phase and direct),
signed URLs, type checks, quota, clean-up and what the model sees of them."""

from chatkit_store.attachments.service import AttachmentFiles, FileRecord

__all__ = ["AttachmentFiles", "FileRecord"]
