"""``hcp server …``: run the central server and administer it (devices, configuration, case systems, jobs)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sync_server.commands import DB_HELP as _DB_HELP
from sync_server.commands import add_command as _command
from sync_server.commands import open_store as _store
from sync_server.db import DEFAULT_DB_URL


def register(sub) -> None:
    server = sub.add_parser("server", help="运行中心服务（同步接口、扫码评价页）及其管理命令")
    server.add_argument("--db", default=DEFAULT_DB_URL, help=_DB_HELP)
    server.add_argument("--host", default="127.0.0.1", help="监听地址（默认 127.0.0.1）")
    server.add_argument("--port", type=int, default=8000, help="监听端口（默认 8000）")
    server.add_argument("--workers", type=int, default=1, help="工作进程数（默认 1；服务无本地状态，可多进程）")
    server.add_argument(
        "--settings", type=Path, default=None, help="服务设置文件（如 config/server.toml；不给则全部取默认值）"
    )
    server.set_defaults(func=_run)
    ssub = server.add_subparsers(dest="server_command", metavar="SUBCOMMAND")
    _command(ssub, "migrate", "把数据库结构升级到最新版本", _migrate)
    _device_commands(ssub)
    _config_commands(ssub)
    cs = ssub.add_parser("casesystem", help="办件系统的 API 密钥")
    cs_sub = cs.add_subparsers(dest="cs_command", required=True, metavar="ACTION")
    add = _command(cs_sub, "add", "登记一个办件系统，输出其 API 密钥（只显示一次）", _casesystem_add)
    add.add_argument("--name", required=True, help="办件系统名称")
    dr = _command(ssub, "default-ratings", "对超期未评价的办件做系统默认评价（可重复运行）", _default_ratings)
    dr.add_argument("--now", help="以此时间为当前时间（ISO 8601，默认现在）")
    demo = _command(ssub, "demo-data", "为演示在新建的数据库中生成近期的示例评价（已有评价则拒绝）", _demo_data)
    demo.add_argument("--days", type=int, default=30, help="生成最近多少天中各工作日的数据（默认 30）")
    demo.add_argument("--seed", type=int, default=7, help="随机数种子：同一种子生成同样的数据（默认 7）")
    _backup_commands(ssub)
    _contact_commands(ssub)
    from sync_server.console.cli import register as register_console

    register_console(ssub, _command)  # hcp server user add, hcp server report
    from sync_server.workflow.cli import register as register_workflow

    register_workflow(ssub, _command)  # hcp server audit verify, webhooks set|deliver, workdays load
    from sync_server.closedcases.cli import register as register_closed_cases

    register_closed_cases(ssub, _command)  # hcp server cases import
    from sync_server.assessment.cli import register as register_assessment

    register_assessment(ssub, _command)  # hcp server assessment propose|panel|sheet
    from sync_server.upstream.cli import register as register_upstream

    register_upstream(ssub, _command)  # hcp server upstream send|reconcile|receiver


def _device_commands(ssub) -> None:
    device = ssub.add_parser("device", help="评价器设备：登记码、列表、停用、改名")
    dsub = device.add_subparsers(dest="device_command", required=True, metavar="ACTION")
    add = _command(dsub, "add", "为窗口生成一次性登记码", _device_add)
    add.add_argument("--window", required=True, help="窗口编号，如 A01")
    add.add_argument("--hours", type=float, default=24, help="登记码有效小时数（默认 24）")
    add.add_argument("--quiet", action="store_true", help="只输出登记码（便于脚本使用）")
    listing = _command(
        dsub, "list", "列出已登记的设备（超过 [console] device_silent_minutes 未联系的标为失联）", _device_list
    )
    listing.add_argument("--now", help="以此时间为当前时间（ISO 8601，默认现在）")
    revoke = _command(dsub, "revoke", "停用设备：其后的请求一律拒绝", _device_revoke)
    revoke.add_argument("device_id", help="设备编号")
    rename = _command(dsub, "rename", "给设备起名（如“A01 左侧”），空名称则清除", _device_rename)
    rename.add_argument("device_id", help="设备编号")
    rename.add_argument("name", help="名称，最多 32 个字")


def _backup_commands(ssub) -> None:
    backup = _command(ssub, "backup", "在线备份 SQLite 数据库（服务运行中也一致）；PostgreSQL 用 pg_dump", _backup)
    backup.add_argument("--out", required=True, type=Path, help="备份文件路径")
    restore = _command(ssub, "restore", "从备份文件恢复 SQLite 数据库（先停止服务）", _restore)
    restore.add_argument("file", type=Path, help="hcp server backup 生成的备份文件")
    restore.add_argument("--force", action="store_true", help="目标数据库已有数据时仍然覆盖")


def _contact_commands(ssub) -> None:
    key = ssub.add_parser("contact-key", help="生成群众所留手机号的加密密钥（填入设置文件 [server] contact_key）")
    key.set_defaults(func=_contact_key)
    contacts = ssub.add_parser("contacts", help="群众差评后所留手机号（加密保存）")
    contacts_sub = contacts.add_subparsers(dest="contacts_command", required=True, metavar="ACTION")
    purge = _command(
        contacts_sub,
        "purge",
        "删除差评工单办结已满规定天数（规则 contact.keep_days）的手机号，记入审计日志（每天运行；服务启动时也运行）",
        _contacts_purge,
    )
    purge.add_argument("--now", help="以此时间为当前时间（ISO 8601，默认现在）")


def _config_commands(ssub) -> None:
    config = ssub.add_parser("config", help="大厅配置")
    csub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    imp = _command(csub, "import", "从配置文件导入大厅配置（内容变化则生成新版本）", _config_import)
    imp.add_argument("--config-dir", type=Path, default=Path("config"), help="配置目录（默认 config）")
    imp.add_argument("--rules", default="rules/default.toml", help="规则文件，相对配置目录（默认 rules/default.toml）")


def _now() -> datetime:
    return datetime.now(UTC)


def _run(args) -> int:
    import uvicorn

    from sync_server.app import create_app
    from sync_server.observability import configure_json_logging
    from sync_server.settings import load_server_settings

    configure_json_logging()
    settings_file = load_server_settings(args.settings)  # a bad file stops here, before anything starts
    store = _store(args)
    _purge_at_start(store)
    print(f"好差评中心服务：http://{args.host}:{args.port}（数据库 {_safe_url(args.db)}）", flush=True)
    options = {"host": args.host, "port": args.port, "log_level": "warning", "timeout_graceful_shutdown": 5}
    options["log_config"] = None  # keep our JSON log lines
    if args.workers > 1:
        import os
        import tempfile

        from sync_server.app import DB_ENV, SETTINGS_ENV
        from sync_server.observability import MULTIPROC_ENV

        os.environ[DB_ENV] = args.db
        if args.settings:
            os.environ[SETTINGS_ENV] = str(args.settings.resolve())
        os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="hcp-metrics-")  # counters summed over the workers
        store.dispose()
        uvicorn.run("sync_server.app:app_from_environment", factory=True, workers=args.workers, **options)
    else:
        uvicorn.run(create_app(store, settings_file=settings_file), **options)
    return 0


def _purge_at_start(store) -> None:
    """Numbers whose keeping time is over are deleted at every start too (besides the daily command)."""
    from sync_server.workflow.contacts import purge_numbers

    deleted = purge_numbers(store, _now())
    if deleted:
        print(f"已按规定删除 {deleted} 个到期的手机号（记入审计日志）", flush=True)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _migrate(args) -> int:
    from sync_server.db import Store, current_revision

    probe = Store.from_url(args.db)
    before = current_revision(probe)
    probe.dispose()
    after = current_revision(_store(args))
    if before == after:
        print(f"数据库结构已是最新版本：{after}")
    else:
        print(f"数据库结构已从 {before or '空库'} 升级到最新版本 {after}")
    return 0


def _device_add(args) -> int:
    from sync_server.devices import issue_code
    from sync_server.errors import ServerError

    try:
        code, expires = issue_code(_store(args), args.window, _now(), timedelta(hours=args.hours))
    except ServerError as e:
        print(f"hcp: {e.message}", file=sys.stderr)
        return 2
    if args.quiet:
        print(code)
        return 0
    print(f"登记码：{code}")
    print(f"窗口：{args.window}")
    print(f"有效期至：{expires.isoformat(timespec='seconds')}")
    return 0


def _device_list(args) -> int:
    from sync_server.devices import list_devices
    from sync_server.settings import load_server_settings

    minutes = load_server_settings(args.settings).console.device_silent_minutes  # as the devices page has it
    now = datetime.fromisoformat(args.now) if args.now else _now()
    for d in list_devices(_store(args)):
        state = "已停用" if d.revoked_at else "正常"
        if d.is_silent(now, minutes):
            state = f"失联（超过 {minutes} 分钟未联系）"
        seen = d.last_seen_at or "从未"
        depth = (d.last_status or {}).get("outbox_depth", "-")
        print(f"{d.id}\t{d.window}\t{state}\t登记于 {d.enrolled_at}\t最近联系 {seen}\t待传 {depth}")
    return 0


def _device_revoke(args) -> int:
    from sync_server.devices import revoke
    from sync_server.errors import ServerError

    try:
        revoked = revoke(_store(args), args.device_id, _now())
    except ServerError as e:
        print(f"hcp: {e.message}", file=sys.stderr)
        return 2
    print(f"设备 {args.device_id} 已停用" if revoked else f"设备 {args.device_id} 此前已停用")
    return 0


def _device_rename(args) -> int:
    from sync_server.devices import rename
    from sync_server.errors import ServerError

    try:
        rename(_store(args), args.device_id, args.name, _now())
    except ServerError as e:
        print(f"hcp: {e.message}", file=sys.stderr)
        return 2
    print(
        f"设备 {args.device_id} 已改名为“{args.name}”" if args.name.strip() else f"设备 {args.device_id} 的名称已清除"
    )
    return 0


def _contact_key(args) -> int:
    from sync_server.contact import ContactCipher

    print(ContactCipher.new_key())
    return 0


def _contacts_purge(args) -> int:
    from sync_server.workflow.contacts import purge_numbers

    now = datetime.fromisoformat(args.now) if args.now else _now()
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    deleted = purge_numbers(_store(args), now)
    print(f"已按规定删除 {deleted} 个手机号" if deleted else "没有到期需删除的手机号")
    return 0


def _config_import(args) -> int:
    from sync_server.configs import import_config

    cv, changed = import_config(_store(args), args.config_dir, args.rules, _now())
    what = "已导入新版本" if changed else "配置未变化，仍为版本"
    print(f"{what} {cv.version}（{cv.config.hall.name}，规则：{cv.config.rules.province}）")
    from sync_server.assessment.rules import import_rules

    rules, changed = import_rules(_store(args), args.config_dir, _now())
    print(f"考核细则：{'已导入新版本' if changed else '未变化，仍为版本'} {rules.version}")
    return 0


def _casesystem_add(args) -> int:
    from sync_server.triggers import add_case_system

    key = add_case_system(_store(args), args.name, _now())
    print(f"办件系统 {args.name} 的 API 密钥（只显示这一次，请妥善保存）：")
    print(key)
    return 0


def _default_ratings(args) -> int:
    from sync_server.ratings import apply_default_ratings

    now = datetime.fromisoformat(args.now) if args.now else _now()
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    done = apply_default_ratings(_store(args), now)
    if not done:
        print("没有超期未评价的办件（或省份规则不做默认评价）")
        return 0
    shown = "、".join(done[:20]) + (f" 等 {len(done)} 件" if len(done) > 20 else "")
    print(f"系统默认评价 {len(done)} 件：{shown}")
    return 0


def _demo_data(args) -> int:
    from sync_server.demo import DemoDataRefused, generate

    if not 1 <= args.days <= 366:
        print("hcp: --days 应在 1–366 之间", file=sys.stderr)
        return 2
    try:
        summary = generate(_store(args), _now(), args.days, args.seed)
    except DemoDataRefused as e:
        print(f"hcp: {e}", file=sys.stderr)
        return 1
    print(summary.line(args.days))
    return 0


def _backup(args) -> int:
    from sync_server.storage.backup import backup

    done = backup(args.db, args.out)
    print(f"已备份到 {done.path}（{done.bytes / 2**20:.1f} MiB，{done.records} 条记录，完整性检查通过）")
    return 0


def _restore(args) -> int:
    from sync_server.storage.backup import restore

    done = restore(args.file, args.db, force=args.force)
    print(f"已从 {args.file} 恢复到 {done.path}（{done.records} 条记录，数据库结构已升级到最新）")
    return 0
