"""Hall configuration on the server: imported from ``config/`` files, versioned, handed to terminals."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from haochaping.config import HallConfig, Rules, load_hall_config
from sync_server.db import Store
from sync_server.storage import configs as stored
from sync_server.storage.schema import utc_iso


@dataclass(frozen=True)
class ConfigVersion:
    id: int
    version: str
    config: HallConfig
    imported_at: str


def import_config(store: Store, config_dir: Path, rules_file: str, now: datetime) -> tuple[ConfigVersion, bool]:
    """Load and validate the files; store a new version if the content changed. Returns (current, changed)."""
    config = load_hall_config(Path(config_dir), rules_file)
    with store.write() as conn:
        current = _latest(conn)
        if current is not None and current.version == config.version:
            return current, False
        source = str(Path(config_dir) / rules_file)
        new_id = stored.insert_version(conn, config.version, config.model_dump_json(), source, utc_iso(now))
    return ConfigVersion(new_id, config.version, config, utc_iso(now)), True


# Parsed configurations by their version (a digest of the content, so an entry can never be stale);
# which version is current is still asked of the database every time.
_PARSED: dict[str, HallConfig] = {}


def _latest(conn) -> ConfigVersion | None:
    """The newest version, asked once per transaction (callers in a loop get the transaction's answer)."""
    transaction = conn.get_transaction()
    cached = conn.info.get("hcp_config")
    if transaction is not None and cached is not None and cached[0] is transaction:
        return cached[1]
    found = _query_latest(conn)
    if transaction is not None:
        conn.info["hcp_config"] = (transaction, found)
    return found


def _query_latest(conn) -> ConfigVersion | None:
    row = stored.latest_version(conn)
    if row is None:
        return None
    if row.version not in _PARSED:
        content = stored.content_of(conn, row.id)
        _PARSED[row.version] = HallConfig.model_validate_json(content)
    return ConfigVersion(row.id, row.version, _PARSED[row.version], row.imported_at)


def config_version(store: Store, version_id: int | None, version: str | None, imported_at: str | None):
    """The configuration a query found in force (its id, version and import time; None before any import), parsed
    once per version: its content is read only the first time this process meets the version."""
    if version_id is None or version is None or imported_at is None:
        return None
    if version not in _PARSED:
        with store.read() as conn:
            _PARSED[version] = HallConfig.model_validate_json(stored.content_of(conn, version_id))
    return ConfigVersion(version_id, version, _PARSED[version], imported_at)


def current_config(conn) -> ConfigVersion | None:
    """The newest imported configuration, or None before the first import."""
    return _latest(conn)


def current_rules(conn) -> Rules:
    """The rules in force: the imported ones, or the defaults before any import."""
    latest = _latest(conn)
    return latest.config.rules if latest else Rules()


def config_body(cv: ConfigVersion) -> dict:
    """The ``GET /api/v1/config`` body: the exact ``HallConfig`` parts, so a terminal can rebuild it."""
    dumped = json.loads(cv.config.model_dump_json())
    return {"ok": True, "version": cv.version, **dumped}
