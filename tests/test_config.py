"""Configuration: the example files load; a corrupted file fails at start naming the file, the key
and what was expected; ``hcp`` turns that into one readable line."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from haochaping.config import load_hall_config
from haochaping.errors import ConfigError
from haochaping.levels import Level
from kiosk.settings import load_settings

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"


@pytest.fixture
def config_dir(tmp_path) -> Path:
    """A private copy of the example configuration to corrupt."""
    target = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, target)
    return target


def corrupt(config_dir: Path, file: str, old: str | None, new: str) -> Path:
    """Replace ``old`` by ``new`` in one file (``old=None``: prepend ``new``)."""
    path = config_dir / file
    text = path.read_text(encoding="utf-8")
    if old is None:
        text = new + "\n" + text
    else:
        assert text.count(old) >= 1, f"{old!r} not in {file}"
        text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- the example loads


def test_example_hall_config_loads(hall_config):
    hall = hall_config.hall
    assert [w.code for w in hall.windows] == ["A01", "B03", "C05"]
    assert [c.no for c in hall.clerks] == ["1001", "1002", "1003", "1004"]
    assert hall.window("A01").matters[0] == "11450102MB1234567X4000111"
    assert hall_config.reasons.version == "national-2019-v1"
    for level in Level:
        assert hall_config.reasons.for_level(level), f"no reasons for level {int(level)}"
    assert hall_config.reasons.label(115) == "服务态度差效率低"
    assert (hall_config.rules.prompt_timeout_s, hall_config.rules.min_prompt_interval_s) == (60, 20)
    assert len(hall_config.version) == 12


def test_province_rules_load_and_differ():
    default = load_hall_config(CONFIG_DIR)
    guangxi = load_hall_config(CONFIG_DIR, "rules/guangxi.toml")
    assert guangxi.rules != default.rules
    assert guangxi.version != default.version
    assert guangxi.rules.default_rating == 5 and guangxi.rules.default_rating_after_days == 7


def test_example_kiosk_settings_load():
    settings = load_settings(CONFIG_DIR / "kiosk.toml")
    assert (settings.window, settings.trigger_host, settings.trigger_port) == ("A01", "127.0.0.1", 8765)
    assert settings.config_dir == CONFIG_DIR  # relative paths are relative to the settings file
    assert settings.data_dir.is_absolute()
    load_hall_config(settings.config_dir, settings.rules_file).hall.window(settings.window)


# ---------------------------------------------------------------- corrupted files

A01_DEPARTMENT = 'name = "A01 综合受理窗口"\ndepartment = "SC"'
A01_MATTERS = 'matters = ["11450102MB1234567X4000111", "11450102MB1234567X4000112"]'

HALL_CASES = [
    # (file, old text, new text, key, what was expected)
    ("hall.toml", None, "windows = [", "", "不是有效的 TOML"),
    ("hall.toml", 'name = "兴宁区政务服务中心"', 'name = "兴宁区政务服务中心', "", "不是有效的 TOML"),
    ("hall.toml", 'region_code = "450102"', "", "region_code", "缺少此项"),
    ("hall.toml", 'region_code = "450102"', 'region_code = "4501"', "region_code", "应符合格式"),
    ("hall.toml", 'region_code = "450102"', "region_code = 450102", "region_code", "应为字符串"),
    ("hall.toml", None, 'colour = "red"', "colour", "未知的配置项"),
    ("hall.toml", 'no = "1002"', 'no = "1002"\nemail = "x@example.cn"', "clerks.1.email", "未知的配置项"),
    ("hall.toml", A01_DEPARTMENT, 'name = "A01 综合受理窗口"\ndepartment = "XX"', "windows[0].department", "未知部门"),
    ("hall.toml", A01_MATTERS, 'matters = ["11450102MB0000000X0000000"]', "windows[0].matters", "未知事项"),
    ("hall.toml", A01_MATTERS, "matters = []", "windows.0.matters", "至少 1 项"),
    ("hall.toml", 'no = "1002"', 'no = "1001"', "clerks[1].no", "重复"),
    ("hall.toml", 'code = "B03"', 'code = "A01"', "windows[1].code", "重复"),
    ("reasons.toml", "code = 510", "code = 410", "reasons.0", "代码应为 等级×100+序号"),
    ("reasons.toml", "code = 511", "code = 510", "reasons", "代码重复"),
    ("reasons.toml", "level = 5", "level = 6", "reasons.0.level", "应不大于 5"),
    ("reasons.toml", 'version = "national-2019-v1"', "", "version", "缺少此项"),
    ("rules/default.toml", "prompt_timeout_s = 60", 'prompt_timeout_s = "sixty"', "prompt_timeout_s", "应为整数"),
    ("rules/default.toml", "prompt_timeout_s = 60", "prompt_timeout_s = 5", "prompt_timeout_s", "应不小于 10"),
    ("rules/default.toml", "default_rating = 0", "default_rating = 2", "default_rating", "应为以下之一：0、3、4、5"),
    (
        "rules/default.toml",
        "follow_up_allowed = true",
        'follow_up_allowed = "maybe"',
        "follow_up_allowed",
        "true 或 false",
    ),
    ("rules/default.toml", "contact_days = 2", "contact_days = 2.5", "deadlines.contact_days", "应为整数"),
    ("rules/default.toml", "contact_days = 2", "contact_dayz = 2", "deadlines.contact_dayz", "未知的配置项"),
]


@pytest.mark.parametrize("file, old, new, key, expected", HALL_CASES)
def test_corrupted_hall_config(config_dir, file, old, new, key, expected):
    path = corrupt(config_dir, file, old, new)
    with pytest.raises(ConfigError) as raised:
        load_hall_config(config_dir)
    error = raised.value
    assert error.file == str(path)
    assert error.key == key
    assert expected in error.expected
    message = str(error)
    assert message.startswith("配置错误 ") and str(path) in message and key in message and expected in message


def test_missing_file_is_named(config_dir):
    (config_dir / "reasons.toml").unlink()
    with pytest.raises(ConfigError, match="reasons.toml: 文件不存在"):
        load_hall_config(config_dir)


def test_missing_rules_file_is_named(config_dir):
    with pytest.raises(ConfigError, match=r"rules/hainan\.toml: 文件不存在"):
        load_hall_config(config_dir, "rules/hainan.toml")


KIOSK_CASES = [
    ('window = "A01"', "", "window", "缺少此项"),
    ("trigger_port = 8765", "trigger_port = 70000", "trigger_port", "应不大于 65535"),
    ("trigger_port = 8765", 'trigger_port = "eighty"', "trigger_port", "应为整数"),
    ("channel = 4", "channel = 3", "channel", "应为以下之一：4、5"),
    ('trigger_token = "sample-trigger-token-change-me"', 'trigger_token = "short"', "trigger_token", "至少 16 个字符"),
    ('trigger_token = "sample-trigger-token-change-me"', "", "trigger_token", "缺少此项"),
    ('qr_base_url = "http://127.0.0.1:8000"', 'qr_base_url = "ftp://x"', "qr_base_url", "应符合格式"),
    ("screen_dpi = 96", "screen_dpi = 10", "screen_dpi", "应大于 50"),
    ("fullscreen = false", 'fullscreen = "maybe"', "fullscreen", "true 或 false"),
    ("width = 1280", "width = 100", "width", "应不小于 640"),
    ("height = 800", "heigth = 800", "heigth", "未知的配置项"),
    ('window = "A01"', 'window = "A01', "", "不是有效的 TOML"),
]


@pytest.mark.parametrize("old, new, key, expected", KIOSK_CASES)
def test_corrupted_kiosk_settings(config_dir, old, new, key, expected):
    path = corrupt(config_dir, "kiosk.toml", old, new)
    with pytest.raises(ConfigError) as raised:
        load_settings(path)
    error = raised.value
    assert (error.file, error.key) == (str(path), key)
    assert expected in error.expected and str(path) in str(error)


def test_secrets_are_not_echoed_in_errors(config_dir):
    path = corrupt(
        config_dir, "kiosk.toml", 'trigger_token = "sample-trigger-token-change-me"', 'trigger_token = "hunter2"'
    )
    with pytest.raises(ConfigError) as raised:
        load_settings(path)
    assert "hunter2" not in str(raised.value)


def test_kiosk_window_must_exist_in_the_hall(config_dir):
    """A window code that the hall does not have is caught before any screen opens."""
    path = corrupt(config_dir, "kiosk.toml", 'window = "A01"', 'window = "Z99"')
    settings = load_settings(path)
    hall = load_hall_config(settings.config_dir, settings.rules_file)
    with pytest.raises(KeyError, match="Z99"):
        hall.hall.window(settings.window)


# ---------------------------------------------------------------- one readable line from hcp


def hcp(*args: str) -> subprocess.CompletedProcess:
    script = Path(sys.executable).parent / "hcp"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "haochaping.cli"]
    return subprocess.run(command + list(args), capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    "old, new, words",
    [
        ("trigger_port = 8765", "trigger_port = 70000", "trigger_port: 应不大于 65535"),
        ('window = "A01"', 'window = "A01', "不是有效的 TOML"),
    ],
)
def test_hcp_kiosk_trigger_with_corrupted_settings_prints_one_line(config_dir, old, new, words):
    path = corrupt(config_dir, "kiosk.toml", old, new)
    result = hcp("kiosk", "--settings", str(path), "trigger", "--case", "C1")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("hcp: 配置错误 ") and str(path) in line and words in line


@pytest.mark.parametrize(
    "file, old, new, words",
    [
        ("kiosk.toml", "trigger_port = 8765", "trigger_port = 70000", "kiosk.toml: trigger_port: 应不大于 65535"),
        ("kiosk.toml", 'window = "A01"', 'window = "Z99"', "kiosk.toml: window: 大厅配置中没有窗口 'Z99'"),
        ("hall.toml", 'no = "1002"', 'no = "1001"', "hall.toml: clerks[1].no: 重复的 '1001'"),
        ("reasons.toml", None, "version = [", "reasons.toml: 不是有效的 TOML"),
        ("rules/default.toml", "thanks_s = 4", "thanks_s = 0", "default.toml: thanks_s: 应不小于 1"),
    ],
)
def test_hcp_kiosk_with_a_corrupted_config_fails_before_any_window(config_dir, file, old, new, words):
    corrupt(config_dir, file, old, new)
    result = hcp("kiosk", "--settings", str(config_dir / "kiosk.toml"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("hcp: 配置错误 ") and words in line
    assert not (config_dir.parent / "var").exists()  # nothing was started: no data directory made
