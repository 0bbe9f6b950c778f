"""The deployment files: ``systemd-analyze verify`` accepts every unit (rendered with the installed ``hcp``, since
verify checks that ExecStart exists) without a single warning, and the units say what the issue asks for."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest
from ops_helpers import ROOT

UNITS = ROOT / "deploy" / "systemd"
INSTALLED_HCP = "/opt/hcp/bin/hcp"


def render(unit: Path, into: Path, name: str | None = None) -> Path:
    hcp = shutil.which("hcp")
    assert hcp, "the hcp console script is not installed (pip install -e .)"
    target = into / (name or unit.name)
    target.write_text(unit.read_text(encoding="utf-8").replace(INSTALLED_HCP, hcp), encoding="utf-8")
    return target


def sections(unit: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str
    parser.read_string(unit.read_text(encoding="utf-8"))
    return parser


@pytest.mark.parametrize(
    ("unit", "as_name"),
    [
        ("hcp-kiosk.service", None),
        ("hcp-server.service", None),
        ("hcp-server@.service", "hcp-server@8001.service"),
        ("hcp-backup.service", None),
        ("hcp-backup.timer", None),
        ("hcp-webhooks.service", None),
        ("hcp-upstream.service", None),
        ("hcp-default-ratings.service", None),
        ("hcp-default-ratings.timer", None),
    ],
)
def test_systemd_analyze_verify_accepts_the_unit_without_warnings(unit, as_name, tmp_path):
    for other in UNITS.iterdir():  # a timer is verified next to the service it starts
        render(other, tmp_path)
    rendered = render(UNITS / unit, tmp_path, as_name)
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(rendered)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert (done.stdout + done.stderr).strip() == "", done.stdout + done.stderr


def test_verify_would_catch_a_mistake(tmp_path):
    broken = tmp_path / "hcp-kiosk.service"
    broken.write_text((UNITS / "hcp-kiosk.service").read_text().replace(INSTALLED_HCP, "/nonexistent/hcp"))
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", str(broken)], capture_output=True, text=True)
    assert done.returncode != 0 and "/nonexistent/hcp" in done.stderr


def test_the_kiosk_unit_starts_fullscreen_at_boot_with_the_watchdog():
    unit = sections(UNITS / "hcp-kiosk.service")
    service = unit["Service"]
    assert service["Type"] == "notify" and service["NotifyAccess"] == "main"
    assert int(service["WatchdogSec"]) >= 10 and service["Restart"] == "always"
    assert service["ExecStart"].endswith("hcp kiosk --settings /etc/hcp/kiosk.toml")
    assert "graphical.target" in unit["Unit"]["After"] and unit["Install"]["WantedBy"] == "graphical.target"
    assert unit["Unit"]["StartLimitIntervalSec"] == "0"  # never gives up restarting


def test_the_server_units_run_several_stateless_processes():
    single = sections(UNITS / "hcp-server.service")["Service"]
    assert "--workers ${HCP_WORKERS}" in single["ExecStart"] and single["Restart"] == "always"
    template = sections(UNITS / "hcp-server@.service")["Service"]
    assert "--port %i" in template["ExecStart"] and template["EnvironmentFile"] == "/etc/hcp/server.env"


def test_the_nginx_example_spreads_requests_and_passes_the_request_id():
    text = (ROOT / "deploy" / "nginx" / "hcp.conf").read_text(encoding="utf-8")
    assert text.count("server 127.0.0.1:80") >= 2  # several server processes upstream
    assert "proxy_set_header X-Request-ID" in text and "location = /metrics" in text
    assert "proxy_read_timeout" in text  # the triggers long-poll outlives nginx's default


def test_the_deploy_readme_covers_install_enrol_units_backups_and_postgresql():
    text = (ROOT / "deploy" / "README.md").read_text(encoding="utf-8")
    for needed in (
        "pip install 'haochaping[kiosk]'",
        "hcp kiosk enroll",
        "systemctl enable --now hcp-kiosk",
        "hcp server backup",
        "hcp server restore",
        "pg_dump",
        "pg_restore",
        "hcp-server@",
        "/metrics",
        "/healthz",
        "clock_warn_s",
        "hcp bench kiosk-soak",
    ):
        assert needed in text, needed
