"""``hcp server cases import FILE``: closed cases from a case system that can only export a file."""

from __future__ import annotations

import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path


def register(ssub, command) -> None:
    """Add ``hcp server cases …`` (``command`` is the server CLI's parser factory)."""
    cases = ssub.add_parser("cases", help="办件系统报送的办件（受理、办结）")
    csub = cases.add_subparsers(dest="cases_command", required=True, metavar="ACTION")
    imp = command(
        csub, "import", "从办件系统导出的 CSV 或 XLSX 文件导入办件（有错误行则不导入，除非 --skip-bad）", _import
    )
    imp.add_argument("file", type=Path, help="CSV（UTF-8 或 GBK）或 XLSX 文件，第一行为表头")
    imp.add_argument("--skip-bad", action="store_true", help="跳过有错误的行，导入其余各行（错误行仍逐行列出）")


def _import(args) -> int:
    from sync_server.closedcases.errors import BatchRefused
    from sync_server.closedcases.fileimport import import_file
    from sync_server.closedcases.intake import STATUS_LABELS
    from sync_server.commands import open_store
    from sync_server.configs import current_config

    store = open_store(args)
    with store.read() as conn:
        cv = current_config(conn)
    if cv is None:
        print("hcp: 服务器尚未导入大厅配置（hcp server config import），无法核对窗口和事项", file=sys.stderr)
        return 2
    try:
        done = import_file(store, args.file, cv.config.hall, datetime.now(UTC), skip_bad=args.skip_bad)
    except BatchRefused as e:
        print(
            f"hcp: {args.file.name} 未导入（有 {len(e.problems)} 处错误，修正后重新导入，或加 --skip-bad）：",
            file=sys.stderr,
        )
        for problem in e.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    for problem in done.skipped:
        print(f"已跳过 {problem}", file=sys.stderr)
    counts = Counter(status for _, status in done.results)
    summary = "，".join(f"{STATUS_LABELS[s]} {counts[s]}" for s in STATUS_LABELS if counts[s])
    skipped = f"，跳过 {len(done.skipped)} 处错误" if done.skipped else ""
    print(f"已导入 {args.file.name}（{done.encoding}）：{len(done.results)} 件（{summary or '无'}）{skipped}")
    return 0
