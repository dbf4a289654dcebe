"""The vendors' pytest harness: a store on a temp database, an app with temporary plugins, a rendered panel.

Loaded automatically through the ``pytest11`` entry point when twinboard is installed
(do not also list it in ``pytest_plugins``); ``from core.plugins.testing import ...`` works anywhere.
"""

from __future__ import annotations

import json
import types
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.web.app import create_app
from core.web.dashboards import Dashboard
from core.runtime.host import Host
from core.plugins.manifest import Manifest
from core.web.panel_context import PanelContext, Selection
from core.settings import PROJECT_ROOT, Settings
from core.data.store import Store, open_store


def make_manifest(name: str, *, version: str = "0.1.0", api_version: str = ">=1.0,<2",
                  title: tuple[str, str] | None = None, **extra: Any) -> Manifest:
    """A valid manifest for an inline test plugin."""
    zh, en = title or (name, name)
    return Manifest.model_validate({"name": name, "version": version, "api_version": api_version,
                                    "title": {"zh": zh, "en": en}, **extra})


def plugin_from_package(module: types.ModuleType | str) -> tuple[types.ModuleType, Manifest]:
    """(module, manifest) of an installable plugin package, for ``make_twin_app(plugins=[...])``: the
    module (or its import name) and the ``plugin.toml`` beside its ``__init__.py``, read and checked
    as the host reads an entry point's (ManifestError names the file and field)."""
    import importlib

    from core.plugins.manifest import MANIFEST_FILE, load_manifest
    mod = importlib.import_module(module) if isinstance(module, str) else module
    path = Path(mod.__file__ or "").parent / MANIFEST_FILE
    manifest = load_manifest(path)
    return mod, manifest


def plugin_module(name: str, **hooks: Callable[..., Any]) -> types.ModuleType:
    """A throw-away plugin module whose attributes are the given hookimpls."""
    mod = types.ModuleType(f"twinboard_test_plugin_{name}")
    for hook_name, fn in hooks.items():
        setattr(mod, hook_name, fn)
    return mod


def temp_settings(root: Path, **overrides: Any) -> Settings:
    """Settings rooted in ``root`` (a temp folder): own database, no folder or entry-point plugins."""
    for sub in ("plugins", "dashboards"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    base: dict[str, Any] = {"root": root, "database_url": f"sqlite:///{root / 'twin.sqlite'}",
                            "plugins_dir": root / "plugins", "dashboards_dir": root / "dashboards",
                            "playlists_file": root / "playlists.yaml", "entry_points": False,
                            "var_dir": root / "var", "public_screens": True,
                            "secret_key": "test-secret"}
    base.update(overrides)
    return Settings(**base)


@pytest.fixture
def twin_store(tmp_path: Path) -> Store:
    """A twin store on a fresh SQLite file."""
    return open_store(f"sqlite:///{tmp_path / 'store.sqlite'}")


@pytest.fixture
def make_twin_app(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Factory: ``make_twin_app(plugins=[(module, manifest)], dashboards=[{...}], builtin=False,
    plugin_config={name: {"settings": {...}, "enabled": bool}}, **settings)``.

    Returns the Dash app (its host at ``app.server.config["TWINBOARD_HOST"]``); hosts are stopped at teardown.
    ``builtin=True`` also loads the repository's own ``plugins/`` folder. ``plugins`` is the list of inline
    plugins, so it cannot also be the settings file's per-plugin section (``Settings.plugins``): give that
    as ``plugin_config`` — each plugin's ``settings`` override its manifest's ``[settings]`` exactly as
    ``plugins.<name>.settings`` in config/default.yaml does. Other keywords are host ``Settings`` fields.
    """
    hosts: list[Host] = []

    def factory(plugins: Sequence[tuple[Any, Manifest]] = (), dashboards: Sequence[dict[str, Any]] = (),
                builtin: bool = False, start: bool = True, plugin_config: dict[str, Any] | None = None,
                **overrides: Any) -> Any:
        root = tmp_path / f"app{len(hosts)}"
        if builtin:
            overrides.setdefault("plugins_dir", PROJECT_ROOT / "plugins")
        if plugin_config is not None:
            overrides["plugins"] = plugin_config
        settings = temp_settings(root, **overrides)
        for d in dashboards:
            (settings.path(settings.dashboards_dir) / f"{d['uid']}.yaml").write_text(
                yaml.safe_dump(d, allow_unicode=True), encoding="utf-8")
        host = Host(settings, extra_plugins=plugins)
        hosts.append(host)
        return create_app(settings, host=host, start=start)

    yield factory
    for host in hosts:
        host.stop()


def render_panel(app: Any, panel_id: str, options: dict[str, Any] | None = None,
                 locale: str = "zh_CN", selection: dict[str, Any] | None = None) -> Any:
    """Render one panel server-side as a screen would: the Dash component, or the deck JSON for maps.

    ``selection`` is a map pick as the browser sends it (``{"id", "lon", "lat", "ts"}``).
    Raises the panel's own exception, so a test sees what went wrong.
    """
    import json
    host: Host = app.server.config["TWINBOARD_HOST"]
    plugin, spec = host.panel(panel_id)
    if spec is None:
        raise LookupError(f"no enabled panel {panel_id!r}; offered: {sorted(host.all_panels())}")
    record = host.plugins.records[plugin]
    ctx = PanelContext(plugin=plugin, panel_id=panel_id, options={**spec.default_options, **(options or {})},
                       locale=locale, store=host.store, settings=record.settings,
                       translate=host.translator.gettext, selection=Selection.parse(selection))
    result = spec.render(ctx)
    if spec.kind == "deck" and hasattr(result, "to_json"):
        return json.loads(result.to_json())
    return result


def panel_text(node: Any, originals: list[str] | None = None) -> str:
    """The text a rendered panel (``render_panel``'s Dash component) shows, one line per ``Div``.

    A person's free text shown as the marked original (``PanelContext.original``) is replaced by
    ``‹original›`` and its text appended to ``originals`` when given, the way the wall audit takes it out
    before it looks for untranslated Chinese on an English screen.
    """
    from dash import html
    if node is None:
        return ""
    if isinstance(node, (str, int, float)):
        return str(node)
    if isinstance(node, (list, tuple)):
        return "".join(panel_text(n, originals) for n in node)
    if getattr(node, "className", None) == "tb-original":
        if originals is not None:
            originals.append(str(node.children))
        return "‹original›"
    inner = panel_text(getattr(node, "children", None), originals)
    return f"\n{inner}\n" if isinstance(node, html.Div) else inner


def dashboard(uid: str, *panels: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A minimal valid dashboard dict for ``make_twin_app(dashboards=[...])``."""
    d = {"uid": uid, "title": {"zh": uid, "en": uid}, "panels": list(panels), **extra}
    Dashboard.model_validate(d)
    return d


def render_callback(client: Any, app: Any, uid: str, key: str, *, locale: str = "zh_CN", have: Any = None,
                    selection: dict[str, Any] | None = None, tick: int = 1,
                    state: dict[str, Any] | None = None) -> tuple[dict[str, Any], int]:
    """POST one placed panel's render callback to ``/_dash-update-component`` as the browser does.

    ``client`` is ``app.server.test_client()``; ``have`` what the browser holds of a deck scene
    (``core.web.deckpatch``), ``selection`` its last map pick, ``state`` other State values by
    "part.property" (e.g. {"body.className": ...}). The request follows the callback's own
    outputs, inputs and states. Returns ({"part" or "part.property": value} for what came back
    — "body", "deck", "fresh", "frame"… — and the response's size in bytes).
    """
    ident = f"{uid}/{key}"
    output = next(k for k in app.callback_map if '"tb-body"' in k and '"tb-deck"' in k)
    entry = app.callback_map[output]

    def concrete(id_text: str) -> Any:
        if not id_text.startswith("{"):
            return id_text
        return {k: (ident if v == ["MATCH"] else v) for k, v in json.loads(id_text).items()}

    def part(id_: Any) -> str:
        return id_["type"].removeprefix("tb-") if isinstance(id_, dict) else id_

    outputs = []
    for item in output.strip(".").split("..."):
        id_text, prop = item.rsplit(".", 1)
        outputs.append({"id": concrete(id_text), "property": prop})
    values = {"tick.n_intervals": tick, "meta.data": {"uid": uid, "key": key, "locale": locale},
              "have.data": have, "tb-select.data": selection, **(state or {})}

    def with_values(deps: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for d in deps:
            id_ = concrete(d["id"])
            out.append({"id": id_, "property": d["property"], "value": values.get(f"{part(id_)}.{d['property']}")})
        return out
    inputs = with_values(entry["inputs"])
    tick_id = json.dumps(inputs[0]["id"], separators=(",", ":"), sort_keys=True)
    token = client.get_cookie("_csrf_token")
    if token is None:
        client.get("/api/health")
        token = client.get_cookie("_csrf_token")
    body = {"output": output, "outputs": outputs, "inputs": inputs, "state": with_values(entry["state"]),
            "changedPropIds": [f"{tick_id}.{inputs[0]['property']}"]}
    resp = client.post("/_dash-update-component", json=body, headers={"X-CSRFToken": token.value})
    if resp.status_code == 204:
        return {}, 0
    if resp.status_code != 200:
        raise AssertionError(f"render callback answered {resp.status_code}: {resp.get_data(as_text=True)[:500]}")
    raw = resp.get_data()
    parts: dict[str, Any] = {}
    for id_text, props in json.loads(raw)["response"].items():
        name = part(json.loads(id_text) if id_text.startswith("{") else id_text)
        for prop, value in props.items():
            main = {"body": "children", "deck": "data", "fresh": "children", "frame": "className"}.get(name)
            parts[name if prop == main else f"{name}.{prop}"] = value
    return parts, len(raw)
