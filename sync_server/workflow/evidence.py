"""Appeal evidence files: only JPEG, PNG and PDF (recognised by their first bytes, not by the name the browser
sends), each under the size limit; stored in the database with their sha256, so every server process serves them."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from sync_server.workflow.errors import EvidenceRejected
from sync_server.workflow.settings import WorkflowSettings

SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"%PDF-", "application/pdf"),
)
ACCEPTED = "JPG、PNG 或 PDF"


@dataclass(frozen=True)
class Evidence:
    filename: str
    content_type: str
    content: bytes

    @property
    def size(self) -> int:
        return len(self.content)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def accept(filename: str, content: bytes, settings: WorkflowSettings) -> Evidence:
    """An accepted evidence file, or EvidenceRejected naming the file and what is wrong."""
    name = _clean_name(filename)
    if not content:
        raise EvidenceRejected(f"证据文件“{name}”是空的")
    if len(content) > settings.evidence_max_bytes:
        limit = settings.evidence_max_bytes / (1024 * 1024)
        raise EvidenceRejected(f"证据文件“{name}”超过 {limit:g} MiB 的上限")
    kind = next((ctype for magic, ctype in SIGNATURES if content.startswith(magic)), None)
    if kind is None:
        raise EvidenceRejected(f"证据文件“{name}”不是 {ACCEPTED} 文件")
    return Evidence(name, kind, content)


def _clean_name(filename: str) -> str:
    base = re.split(r"[\\/]", filename or "")[-1].strip()
    return re.sub(r"[\x00-\x1f\"<>|:*?]", "_", base)[:128] or "未命名"
