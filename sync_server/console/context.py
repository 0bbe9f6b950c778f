"""What console code reads from the app: its settings, the current hall configuration, the clock."""

from __future__ import annotations

from fastapi import FastAPI

from sync_server.configs import ConfigVersion, current_config
from sync_server.console.settings import ConsoleSettings


def console_settings(app: FastAPI) -> ConsoleSettings:
    """The console's settings: the ``[console]`` section of the server's settings file, or the defaults."""
    return getattr(app.state, "console_settings", None) or ConsoleSettings()


def current_version(app: FastAPI) -> ConfigVersion | None:
    with app.state.store.read() as conn:
        return current_config(conn)


def current_hall(app: FastAPI):
    cv = current_version(app)
    return cv.config.hall if cv else None
