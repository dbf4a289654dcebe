"""`twinboard new-plugin NAME --package`: an installable package that builds, loads through its entry point
with its dashboard, and whose own tests pass."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import main
from core.errors import ConfigError
from core.plugins.scaffold import scaffold_package

ROOT = Path(__file__).resolve().parent.parent

LOAD = """
import json, sys
from pathlib import Path
from core.plugins.testing import temp_settings
from core.plugins.manager import build_plugin_manager
from core.web.dashboards import load_plugin_dashboards
settings = temp_settings(Path(sys.argv[1]), entry_points=True, plugin_allowlist=["tank_levels"])
manager = build_plugin_manager(settings)
rec = manager.records["tank_levels"]
boards = load_plugin_dashboards(manager)
print(json.dumps({"origin": rec.origin, "state": rec.status.value, "error": rec.error, "location": rec.location,
                  "boards": {uid: [p.panel for p in b.panels] for uid, (b, _w) in boards.items()}}))
"""


def test_new_plugin_package_builds_loads_from_its_entry_point_and_passes_its_tests(tmp_path: Path, capsys) -> None:
    assert main(["new-plugin", "tank_levels", "--package", "--dest", str(tmp_path)]) == 0
    pkg = tmp_path / "twinboard-tank-levels"
    assert str(pkg) in capsys.readouterr().out
    files = sorted(str(p.relative_to(pkg)) for p in pkg.rglob("*") if p.is_file())
    assert files == ["pyproject.toml", "tests/test_tank_levels.py", "twinboard_tank_levels/__init__.py",
                     "twinboard_tank_levels/dashboards/tank_levels.yaml", "twinboard_tank_levels/plugin.toml"]
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    # a wheel, built offline with the venv's setuptools, carries the manifest, the dashboard and the entry point
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "dist"), str(pkg)], check=True, env=env, cwd=tmp_path, timeout=300)
    [wheel] = (tmp_path / "dist").glob("*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(tmp_path / "site"),
                    str(wheel)], check=True, env=env, cwd=tmp_path, timeout=300)
    # installed into a separate folder, it is discovered as the host discovers any installed plugin
    out = subprocess.run([sys.executable, "-c", LOAD, str(tmp_path / "host")], capture_output=True, text=True,
                         env={**env, "PYTHONPATH": f"{tmp_path / 'site'}{os.pathsep}{ROOT}"}, cwd=tmp_path,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    assert (doc["origin"], doc["state"], doc["error"]) == ("entry-point", "enabled", None)
    assert doc["location"] == "twinboard-tank-levels:twinboard_tank_levels"
    assert doc["boards"] == {"tank_levels": ["tank_levels.latest", "alerts.list"]}
    # its own tests pass, run from its folder with the host's Python
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], capture_output=True,
                         text=True, cwd=pkg, env=env, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "2 passed" in run.stdout


def test_new_plugin_package_refuses_a_bad_name_or_an_existing_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="plugin name 'Tank' is invalid"):
        scaffold_package("Tank", tmp_path)
    scaffold_package("tank", tmp_path)
    with pytest.raises(ConfigError, match="folder already exists"):
        scaffold_package("tank", tmp_path)
