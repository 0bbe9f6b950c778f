"""Enrolment: exchange a one-time code from the server for this terminal's device id and secret.

The new identity is written to ``<data_dir>/device.json`` (mode 0600) with the server's address.
Records are chained per device, so an outbox made under the previous identity is kept aside as
``outbox-<old device id>.db`` (never deleted) and the terminal starts a fresh chain.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from kiosk.errors import EnrolmentFailed
from kiosk.identity import DeviceIdentity, load_or_create_identity
from kiosk.settings import load_settings

OUTBOX_FILE = "outbox.db"
IDENTITY_FILE = "device.json"


def enroll(settings_path: Path, server_url: str, code: str, *, session=None, force: bool = False) -> DeviceIdentity:
    """Enrol this terminal with the server; returns the new identity. Raises EnrolmentFailed."""
    from kiosk.sync import exchange_enrolment_code, new_session

    settings = load_settings(settings_path)
    data_dir = Path(settings.data_dir)
    server_url = server_url.rstrip("/")
    if not server_url.startswith(("http://", "https://")):
        raise EnrolmentFailed(f"服务器地址应以 http:// 或 https:// 开头：{server_url}")
    previous = _previous_identity(data_dir)
    if previous is not None and previous.enrolled and not force:
        _refuse_if_unsynced(data_dir, previous)
    answer = exchange_enrolment_code(server_url, code.strip(), session or new_session())
    if answer["window"] != settings.window:
        raise EnrolmentFailed(
            f"窗口不符：服务器为窗口 {answer['window']} 发放了此登记码，"
            f"而 {settings_path} 中 window = {settings.window!r}；"
            "请在服务器上为本窗口重新生成登记码（此登记码已作废），或修改设置文件"
        )
    if previous is not None:
        archive_outbox(data_dir, previous.device_id)
    identity = DeviceIdentity(answer["device_id"], answer["secret"], True, server_url, answer["window"])
    identity.save(data_dir / IDENTITY_FILE)
    return identity


def _previous_identity(data_dir: Path) -> DeviceIdentity | None:
    return load_or_create_identity(data_dir) if (data_dir / IDENTITY_FILE).exists() else None


def _refuse_if_unsynced(data_dir: Path, previous: DeviceIdentity) -> None:
    """Re-enrolling strands records the old device has not synced: refuse unless forced."""
    path = data_dir / OUTBOX_FILE
    if not path.exists():
        return
    from kiosk.outbox import Outbox

    outbox = Outbox(path, previous.device_id)
    try:
        depth = outbox.depth()
    finally:
        outbox.close()
    if depth:
        raise EnrolmentFailed(
            f"本机（设备 {previous.device_id}）还有 {depth} 条记录未同步到服务器；"
            "请先让评价器联网同步，或加 --force 重新登记（旧记录将另存，不会删除）"
        )


def archive_outbox(data_dir: Path, old_device_id: str) -> Path | None:
    """Move the outbox (and its WAL files) aside under the old device id; returns the new path."""
    path = data_dir / OUTBOX_FILE
    if not path.exists():
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    target = data_dir / f"outbox-{old_device_id}-{stamp}.db"
    path.rename(target)
    for suffix in ("-wal", "-shm"):
        extra = data_dir / (OUTBOX_FILE + suffix)
        if extra.exists():
            extra.rename(Path(str(target) + suffix))
    return target
