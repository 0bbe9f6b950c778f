"""Bounded, rotated log files for the kiosk: ``<data_dir>/logs/kiosk.log`` plus a fixed number of old files.

A terminal runs for years on a small disk: the logs never take more than ``max_bytes × (backups + 1)``
(5 × 2 MiB by default, about 12 MiB with the current file). Kivy's own log files are switched off in
``kiosk.app.configure_kivy``; Kivy's messages come here through the ``kivy`` logger instead.

A mobile number a citizen left after a 差评 never reaches the file in full: every line passes ``MaskMobiles``
(138****1234), whatever logged it (a server's error text echoing a record, an exception).
"""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path

from haochaping.mobile import mask_mobiles

LOG_FILE = "kiosk.log"
MAX_BYTES = 2 * 1024 * 1024
BACKUPS = 5
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class MaskMobiles(logging.Filter):
    """Masks every mobile number in a log line (its message and any traceback) before it is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_mobiles(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_mobiles(record.exc_text)
        return True


def configure_logs(
    data_dir: Path | str, max_bytes: int = MAX_BYTES, backups: int = BACKUPS, level: int = logging.INFO
) -> RotatingFileHandler:
    """Send the root and ``kivy`` loggers to a rotating file under ``<data_dir>/logs``; returns the handler."""
    folder = Path(data_dir) / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    handler = RotatingFileHandler(folder / LOG_FILE, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(MaskMobiles())
    handler.setLevel(level)
    for name in ("", "kivy"):
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if isinstance(h, RotatingFileHandler)]:
            logger.removeHandler(old)
            old.close()
        logger.addHandler(handler)
        for other in logger.handlers:  # Kivy's console handler too
            if not any(isinstance(f, MaskMobiles) for f in other.filters):
                other.addFilter(MaskMobiles())
    root = logging.getLogger()
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    return handler


def log_bytes(data_dir: Path | str) -> int:
    """What the kiosk's logs take on disk now."""
    folder = Path(data_dir) / "logs"
    return sum(f.stat().st_size for f in folder.glob(LOG_FILE + "*")) if folder.is_dir() else 0
