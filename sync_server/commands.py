"""What every ``hcp server`` sub-command shares: the ``--db`` option and the migrated store it names.

``sync_server.cli`` and the sub-command modules of each part (``console.cli``, ``workflow.cli``, …) import this;
none of them imports another's command line.
"""

from __future__ import annotations

import argparse

from sync_server.db import DEFAULT_DB_URL

DB_HELP = f"数据库地址：sqlite:///路径 或 postgresql+psycopg://用户@主机:端口/库（默认 {DEFAULT_DB_URL}）"


def add_command(sub, name: str, help_text: str, func):
    """A sub-command with its own ``--db`` option (it may also be given before the sub-command)."""
    parser = sub.add_parser(name, help=help_text)
    parser.add_argument("--db", default=argparse.SUPPRESS, help=DB_HELP)
    parser.set_defaults(func=func)
    return parser


def open_store(args):
    """The store ``--db`` names, migrated to the latest revision, with what follows a settled rating wired."""
    from sync_server.db import Store, migrate
    from sync_server.wiring import wire_settlement

    wire_settlement()
    store = Store.from_url(args.db)
    migrate(store)
    return store
