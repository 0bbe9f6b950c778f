"""Production installs: what each extra brings is enough for the part it installs, and ``hcp`` says which extra a
missing part needs.

The slow tests build this checkout's wheel once, then pip-install it into a clean venv per extra (no system site
packages, from the package index pip is configured with, as a hall's IT staff would): ``[server]`` runs ``hcp server``
and answers ``/healthz``; ``[kiosk]`` starts the kiosk app under a private Xvfb and its trigger endpoint answers.
Neither has the test extra. The fast tests read the extras in ``pyproject.toml`` against what each package imports.
"""

from __future__ import annotations

import ast
import os
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from bench.kit import free_port, virtual_display
from bench.kit import write_settings as write_kiosk_settings

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
INSTALL_LIMIT_S = 1500  # pip may fetch a few hundred MB on a cold cache (Kivy, PostgreSQL's client library)


# ---------------------------------------------------------------- the extras, read from pyproject.toml


def extra_requirements(*extras: str) -> list[Requirement]:
    """The base dependencies and those of ``extras``, the project's own extras (``haochaping[…]``) expanded."""
    found, todo, seen = [Requirement(r) for r in PYPROJECT["dependencies"]], list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in PYPROJECT["optional-dependencies"][extra]:
            req = Requirement(text)
            if req.name == PYPROJECT["name"]:
                todo += sorted(req.extras)
            else:
                found.append(req)
    return found


def installed_closure(reqs: list[Requirement]) -> set[str]:
    """Normalised names of the distributions ``reqs`` bring into this environment, their dependencies included."""
    names: set[str] = set()
    todo = [(r.name, frozenset(r.extras)) for r in reqs]
    while todo:
        name, extras = todo.pop()
        key = _norm(name)
        if (key, extras) in names:
            continue
        names.add((key, extras))
        try:
            needs = requires(name) or []
        except PackageNotFoundError:
            continue
        for text in needs:
            req = Requirement(text)
            if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in {"", *extras}):
                todo.append((req.name, frozenset(req.extras)))
    return {key for key, _extras in names}


def third_party_imports(package: str) -> dict[str, list[str]]:
    """Top-level module → the files of ``package`` that import it (module or function level), stdlib left out."""
    own = {"haochaping", "kiosk", "sync_server", "bench"}
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                tops = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                tops = [node.module.split(".")[0]]
            else:
                continue
            for top in tops:
                if top not in own and top not in sys.stdlib_module_names:
                    found.setdefault(top, []).append(str(path.relative_to(ROOT)))
    return found


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


@pytest.mark.parametrize(
    "package, extras",
    [("haochaping", ()), ("kiosk", ("kiosk",)), ("sync_server", ("server",)), ("bench", ("bench",))],
)
def test_each_extra_brings_what_its_package_imports(package, extras):
    """Every third-party module a package imports comes with its extra (``hcp`` itself checks for its part's)."""
    closure = installed_closure(extra_requirements(*extras))
    providers = packages_distributions()
    missing = {
        module: files
        for module, files in third_party_imports(package).items()
        if not any(_norm(d) in closure for d in providers.get(module, []))
    }
    if package == "haochaping":  # hcp itself only looks the parts up (find_spec) before importing them
        missing = {m: [f for f in fs if f != "haochaping/cli.py"] for m, fs in missing.items()}
        missing = {m: fs for m, fs in missing.items() if fs}
    assert missing == {}, f"[{','.join(extras)}] does not bring these, which {package}/ imports"


def test_the_bench_extra_has_httpx_and_all_has_every_extra():
    extras = PYPROJECT["optional-dependencies"]
    assert "httpx" in {r.name for r in extra_requirements("bench")}
    assert "httpx" not in {r.name for r in extra_requirements("kiosk", "server")}
    assert Requirement(extras["all"][0]).extras == {"kiosk", "server", "bench", "test"}
    every = [req for extra in extras for req in extra_requirements(extra) if req.name != "haochaping"]
    unbounded = sorted(
        {str(req) for req in every if not any(s.operator in ("<", "<=", "==", "~=") for s in req.specifier)}
    )
    assert unbounded == [], "every requirement has a range with an upper bound"


# ---------------------------------------------------------------- hcp names the extra a missing part needs


@pytest.mark.parametrize(
    "command, hidden, extra",
    [("kiosk", "kivy", "kiosk"), ("server", "fastapi", "server"), ("bench", "httpx", "bench")],
)
def test_hcp_names_the_extra_a_missing_part_needs(monkeypatch, capsys, command, hidden, extra):
    import haochaping.cli as cli

    real = cli.find_spec
    monkeypatch.setattr(cli, "find_spec", lambda name: None if name == hidden else real(name))
    assert cli.main([command, "--help"]) == 2
    err = capsys.readouterr().err
    assert f"pip install 'haochaping[{extra}]'" in err and hidden in err
    assert err.startswith(f"hcp {command}: ") and len(err.strip().splitlines()) == 1


# ---------------------------------------------------------------- real installs in clean venvs


def clean_env(venv: Path | None = None, **extra: str) -> dict:
    """This process's environment without anything that would import this checkout instead of the install."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    if venv is not None:
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """This checkout built as a wheel, once, from a copy (the build leaves nothing in the work tree)."""
    tmp = tmp_path_factory.mktemp("wheel")
    junk = shutil.ignore_patterns(".git", "var", "screenshots", "build", "*.egg-info", "__pycache__", ".*_cache")
    shutil.copytree(ROOT, tmp / "src", ignore=junk)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp)]
    subprocess.run([*command, str(tmp / "src")], check=True, env=clean_env(), timeout=INSTALL_LIMIT_S)
    (found,) = tmp.glob("haochaping-*.whl")
    return found


def make_venv(tmp_path_factory, wheel: Path, extra: str) -> Path:
    venv = tmp_path_factory.mktemp(f"venv-{extra}")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)  # no system site packages
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    done = subprocess.run(
        [*pip, f"haochaping[{extra}] @ {wheel.as_uri()}"],
        env=clean_env(venv),
        capture_output=True,
        text=True,
        timeout=INSTALL_LIMIT_S,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return venv


@pytest.fixture(scope="session")
def server_venv(tmp_path_factory, wheel) -> Path:
    return make_venv(tmp_path_factory, wheel, "server")


@pytest.fixture(scope="session")
def kiosk_venv(tmp_path_factory, wheel) -> Path:
    return make_venv(tmp_path_factory, wheel, "kiosk")


def has_module(venv: Path, module: str) -> bool:
    probe = f"import importlib.util, sys; sys.exit(0 if importlib.util.find_spec({module!r}) else 1)"
    return subprocess.run([str(venv / "bin" / "python"), "-c", probe], env=clean_env(venv), timeout=60).returncode == 0


def hcp(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(venv / "bin" / "hcp"), *args], env=clean_env(venv), cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
@pytest.mark.timeout(2 * INSTALL_LIMIT_S)
def test_a_server_install_runs_hcp_server_and_answers_healthz(server_venv, tmp_path):
    assert not has_module(server_venv, "pytest") and not has_module(server_venv, "kivy")
    settings = tmp_path / "server.toml"
    shutil.copy(ROOT / "config" / "server.toml", settings)
    db = f"sqlite:///{tmp_path / 'data' / 'server.db'}"
    migrated = hcp(server_venv, "server", "--db", db, "migrate", cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    port = free_port()
    command = [str(server_venv / "bin" / "hcp"), "server", "--db", db, "--port", str(port), "--settings", str(settings)]
    with open(tmp_path / "server.log", "wb") as log:
        server = subprocess.Popen(command, env=clean_env(server_venv), cwd=tmp_path, stdout=log, stderr=log)
    try:
        status = wait_for(lambda: healthz(port), server, tmp_path / "server.log")
        assert status == 200
    finally:
        stop(server)
    for part, extra in (("kiosk", "kiosk"), ("bench", "bench")):
        missing = hcp(server_venv, part, cwd=tmp_path)
        assert missing.returncode == 2 and f"haochaping[{extra}]" in missing.stderr, missing.stderr


@pytest.mark.slow
@pytest.mark.gui
@pytest.mark.timeout(2 * INSTALL_LIMIT_S)
def test_a_kiosk_install_starts_the_kiosk_app(kiosk_venv, tmp_path):
    assert not has_module(kiosk_venv, "pytest") and not has_module(kiosk_venv, "fastapi")
    settings = write_kiosk_settings(tmp_path, "install-test-trigger-token-0123456789", 1280, 800)
    port = int(
        next(line for line in settings.read_text().splitlines() if line.startswith("trigger_port")).split("=")[1]
    )
    with virtual_display("1280x800x24", first=190, reuse=False) as display:
        env = clean_env(kiosk_venv, DISPLAY=display, KIVY_HOME=str(tmp_path / "kivy"), KIVY_NO_ARGS="1")
        command = [str(kiosk_venv / "bin" / "hcp"), "kiosk", "--settings", str(settings)]
        with open(tmp_path / "kiosk.log", "wb") as log:
            kiosk = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=log, stderr=log)
        try:
            assert wait_for(lambda: listening(port), kiosk, tmp_path / "kiosk.log")
            answer = hcp(
                kiosk_venv, "kiosk", "trigger", "--settings", str(settings), "--case", "INSTALL0001", cwd=tmp_path
            )
            # 0: the prompt is up; 1: the kiosk refused it and said why (no clerk signed in): the app answered
            assert answer.returncode in (0, 1) and "Traceback" not in answer.stderr, answer.stdout + answer.stderr
            assert kiosk.poll() is None, (tmp_path / "kiosk.log").read_text(errors="replace")[-3000:]
        finally:
            stop(kiosk)
    missing = hcp(kiosk_venv, "server", cwd=tmp_path)
    assert missing.returncode == 2 and "haochaping[server]" in missing.stderr, missing.stderr


def wait_for(check, process: subprocess.Popen, log: Path, limit_s: float = 180.0):
    """Poll ``check`` until it gives something true; the process dying first fails with its log."""
    deadline = time.monotonic() + limit_s  # bounds a start that never comes, asserts nothing about its speed
    while True:
        result = check()
        if result:
            return result
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"not started (exit {process.poll()}): {log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.2)


def healthz(port: int) -> int | None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return response.status
    except OSError:
        return None


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)
