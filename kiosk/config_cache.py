"""The last good hall configuration pulled from the server, kept in ``<data_dir>/config-cache.json``.

Written atomically (temporary file, fsync, rename) and only after the copy validated, so a bad or
half-written copy from the server never replaces a good one. No network here: the sync worker
writes the cache, the app reads it at start (falling back to the local ``config/`` files).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from haochaping.config import HallConfig
from kiosk.errors import KioskError

CACHE_FILE = "config-cache.json"
PARTS = ("hall", "reasons", "rules")


class ConfigRejected(KioskError):
    """A configuration copy (from the server or the cache file) is not valid; the previous one stays."""


@dataclass(frozen=True)
class CachedConfig:
    config: HallConfig
    version: str
    etag: str | None
    pulled_at: str | None


def validate_config_body(body: dict, window: str | None = None) -> HallConfig:
    """Rebuild a HallConfig from the server's parts; refuse it if invalid or if it lacks our window."""
    if not isinstance(body, dict) or not all(isinstance(body.get(p), dict) for p in PARTS):
        raise ConfigRejected("配置缺少 hall、reasons 或 rules")
    try:
        config = HallConfig.model_validate({p: body[p] for p in PARTS})
    except ValidationError as e:
        raise ConfigRejected(f"配置无效：{e.errors()[0].get('msg', e)}") from e
    if window is not None and window not in {w.code for w in config.hall.windows}:
        raise ConfigRejected(f"配置中没有本机窗口 {window}")
    return config


def write_config_cache(data_dir: Path, version: str, etag: str | None, body: dict, now: datetime) -> Path:
    """Write the validated copy atomically; returns the cache file's path."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / CACHE_FILE
    content = {
        "version": version,
        "etag": etag,
        "pulled_at": now.astimezone(UTC).isoformat(timespec="seconds"),
        **{p: body[p] for p in PARTS},
    }
    tmp = path.with_suffix(".json.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(content, f, ensure_ascii=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(data_dir)
    return path


def read_config_cache(data_dir: Path, window: str | None = None) -> CachedConfig | None:
    """The last good copy, or None when there is none or it cannot be trusted."""
    path = Path(data_dir) / CACHE_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        config = validate_config_body(raw, window)
    except (OSError, ValueError, ConfigRejected):
        return None
    return CachedConfig(config, str(raw.get("version") or config.version), raw.get("etag"), raw.get("pulled_at"))


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def hall_config_preferring_cache(settings) -> HallConfig:
    """The last good copy from the server if there is one for this window, else the local ``config/`` files.

    A local file that is broken still fails with ConfigError (file, key, expected) when there is no cache.
    """
    from haochaping.config import load_hall_config

    cached = read_config_cache(settings.data_dir, settings.window)
    if cached is not None:
        return cached.config
    return load_hall_config(settings.config_dir, settings.rules_file)
