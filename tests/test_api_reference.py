"""docs/api.md is generated from core.api's docstrings and signatures; it cannot drift from the code."""

from __future__ import annotations

import inspect
from pathlib import Path

from core.apiref import exported, render_api_reference, undocumented
from core.cli import main

ROOT = Path(__file__).resolve().parent.parent
API_MD = ROOT / "docs" / "api.md"


def test_api_reference_is_up_to_date() -> None:
    assert API_MD.read_text(encoding="utf-8") == render_api_reference(), \
        "docs/api.md is out of date: run `.venv/bin/twinboard docs api`"


def test_every_export_has_a_docstring_and_a_section() -> None:
    assert undocumented() == []
    text = API_MD.read_text(encoding="utf-8")
    for name, obj in exported().items():
        assert f"### `{name}`" in text, name
        if inspect.isclass(obj) and not issubclass(obj, BaseException):
            assert inspect.cleandoc(obj.__doc__).splitlines()[0] in text, name


def test_api_reference_documents_the_vendors_questions() -> None:
    text = API_MD.read_text(encoding="utf-8")
    # what a vendor had to find with inspect.signature: the constructors of the contribution types
    assert "SourceSpec(name: str, interval_s: float = 1.0, poll:" in text
    assert "Reading(entity_id: str, metric: str, ts: float, value: float, unit: str = '')" in text
    assert "#### `Store.move_many`" in text and "#### `SourceContext.ingest`" in text
    assert "#### `PanelContext.text`" in text and "### `register_dashboards`" in text
    assert "0x" not in text


def test_docs_api_command_checks_and_writes(tmp_path: Path, capsys) -> None:
    out = tmp_path / "api.md"
    assert main(["docs", "api", "--check", "--out", str(out)]) == 1
    assert "out of date" in capsys.readouterr().err
    assert main(["docs", "api", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == render_api_reference()
    assert main(["docs", "api", "--check", "--out", str(out)]) == 0


def test_the_api_versions_section_says_in_which_version_each_name_and_hook_came() -> None:
    """docs/plugins.md "API versions" lists every core.api name and every hook under the minor version that
    added it, so a vendor knows the lowest api_version to declare."""
    import re

    import core.api
    from core import PLUGIN_API_VERSION
    from core.plugins import hookspecs
    doc = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    section = doc[doc.index("## API versions"):]
    section = section[:section.index("\n## ", 5)]
    assert f"currently **{PLUGIN_API_VERSION}**" in section
    named = set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)", section))
    hooks = {n for n in dir(hookspecs) if n.startswith(("register_", "on_", "resolve_"))}
    missing = sorted((set(core.api.__all__) | hooks) - named)
    assert not missing, f"not in docs/plugins.md 'API versions': {missing}"
