"""The twinboard command and run.py: one clear message and a non-zero exit for each kind of bad input."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, write_config


def twinboard(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_check_config_passes_on_repository() -> None:
    res = twinboard("check-config")
    assert res.returncode == 0, res.stderr
    assert "config OK" in res.stdout


def test_check_config_reports_unknown_panel_with_file_and_line(tmp_path: Path) -> None:
    boards = tmp_path / "boards"
    boards.mkdir()
    (boards / "x.yaml").write_text("uid: x\ntitle: {zh: 甲, en: X}\npanels:\n"
                                   "  - {key: a, panel: demo_sensors.trnd, x: 0, y: 0, w: 100, h: 100}\n",
                                   encoding="utf-8")
    cfg = write_config(tmp_path, dashboards_dir=str(boards), playlists_file=str(tmp_path / "no.yaml"))
    res = twinboard("--config", str(cfg), "check-config")
    assert res.returncode == 1
    assert f"{boards / 'x.yaml'}:4: field 'panels.0.panel': unknown panel 'demo_sensors.trnd'" in res.stderr


def test_check_config_reports_dashboard_typo(tmp_path: Path) -> None:
    boards = tmp_path / "boards"
    boards.mkdir()
    (boards / "x.yaml").write_text("uid: x\ntitel: {zh: 甲, en: X}\n", encoding="utf-8")
    cfg = write_config(tmp_path, dashboards_dir=str(boards))
    res = twinboard("--config", str(cfg), "check-config")
    assert res.returncode == 2
    assert "x.yaml:" in res.stderr and ("field 'titel'" in res.stderr or "field 'title'" in res.stderr)


def test_plugins_list() -> None:
    res = twinboard("plugins", "list")
    assert res.returncode == 0 and "demo_sensors" in res.stdout and "enabled" in res.stdout


def test_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        res = subprocess.run([sys.executable, "run.py", "--config", str(write_config(tmp_path)), "--port", str(port)],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and f"port {port} on 127.0.0.1 is already in use" in res.stderr


def test_unreachable_database(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, database_url="postgresql+psycopg://tb:pw@127.0.0.1:9/tb")
    res = subprocess.run([sys.executable, "run.py", "--config", str(cfg), "--port", "0"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert "cannot connect to database postgresql+psycopg://tb:***@127.0.0.1:9/tb" in res.stderr
    assert "pw" not in res.stderr.replace("psycopg", "")


def test_new_plugin_scaffold_passes_its_own_test(tmp_path: Path) -> None:
    res = twinboard("new-plugin", "water_meter", "--dest", str(tmp_path))
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "water_meter" / "plugin.toml").exists()
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          str(tmp_path / "water_meter" / "tests")], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    again = twinboard("new-plugin", "water_meter", "--dest", str(tmp_path))
    assert again.returncode == 2 and "water_meter" in again.stderr
