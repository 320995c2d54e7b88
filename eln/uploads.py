"""Streaming uploads: the file goes to a temporary file chunk by chunk while its SHA-256 is
computed, so a large cycler file is never held in memory."""
import hashlib

from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler


class UploadTooLarge(Exception):
    def __init__(self, limit_bytes: int):
        self.limit_bytes = limit_bytes
        super().__init__(f"The file is larger than the upload limit of {limit_bytes} bytes.")


class HashingUploadHandler(TemporaryFileUploadHandler):
    """Writes each file to disk, computing its SHA-256 on the way; refuses past ``limit_bytes``."""

    def __init__(self, request=None, *, limit_bytes: int):
        super().__init__(request)
        self.limit_bytes = limit_bytes

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self._sha256 = hashlib.sha256()
        self._received = 0

    def receive_data_chunk(self, raw_data, start):
        self._received += len(raw_data)
        if self._received > self.limit_bytes:
            self.file.close()
            raise UploadTooLarge(self.limit_bytes)
        self._sha256.update(raw_data)
        return super().receive_data_chunk(raw_data, start)

    def file_complete(self, file_size):
        uploaded = super().file_complete(file_size)
        uploaded.sha256 = self._sha256.hexdigest()
        return uploaded


__all__ = ["HashingUploadHandler", "UploadTooLarge", "StopUpload"]
