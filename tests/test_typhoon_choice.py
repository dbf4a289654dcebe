"""flood_defence: a yearly CMA best-track file with several storms — choosing the storm (by number or name,
or the one nearest the district), a time outside the storm's life, uploads from /plugins/flood_defence/admin/
best-track and `twinboard typhoon import`, the wind column, and extratropical (category 9) points.

``tests/data/cma_bst_2019_sample.txt`` is shaped like the CMA's CH2019BST.txt: five storms of 2019 (1901
Pabuk in January, a nameless depression in July, 1909 Lekima and 1910 Krosa in August at the same time, 1918
Mitag in October, which becomes extratropical). Lekima's lines are the demo file's; the others' positions and
intensities were drawn approximately for these tests: they are not the official best tracks.
"""

from __future__ import annotations

import io
import json
import re
import types
from pathlib import Path

import pytest

from core.plugins.manager import import_plugin_submodule
from core.plugins.testing import render_panel

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "data" / "cma_bst_2019_sample.txt"
PLUGIN = "flood_defence"


def _fd(module: str) -> types.ModuleType:
    return import_plugin_submodule(ROOT / "plugins" / "flood_defence", module)


ty = _fd("typhoon")


def text(component) -> str:
    from plotly.utils import PlotlyJSONEncoder
    return json.dumps(component, cls=PlotlyJSONEncoder, ensure_ascii=False)


def host_of(app):
    return app.server.config["TWINBOARD_HOST"]


@pytest.fixture
def make_fd_app(tmp_path):
    """Factory: a host with only flood_defence (no demo source) and the given flood_defence settings."""
    from core.runtime.host import Host
    from core.plugins.testing import temp_settings
    from core.web.app import create_app
    hosts = []

    def factory(public_screens: bool = True, **fd_settings):
        settings = temp_settings(tmp_path / f"app{len(hosts)}", plugins_dir=ROOT / "plugins",
                                 plugin_allowlist=[PLUGIN], run_sources=False, public_screens=public_screens,
                                 plugins={PLUGIN: {"settings": fd_settings}})
        host = Host(settings)
        hosts.append(host)
        app = create_app(settings, host=host, start=True)
        rec = host.plugins.records[PLUGIN]
        assert rec.status.value == "enabled", rec.error
        return app
    yield factory
    for host in hosts:
        host.stop()


def best_track_entities(app) -> list:
    return host_of(app).store.entities(kind="best_track", plugin=PLUGIN)


# -- the parser -------------------------------------------------------------------------------------

def test_the_sample_file_is_a_valid_yearly_file():
    storms = ty.parse_best_track(SAMPLE)
    assert [s.label for s in storms] == ["1901 Pabuk", "0000 (nameless)", "1909 Lekima", "1910 Krosa", "1918 Mitag"]
    assert storms[0].matches("PABUK") and storms[2].matches("lekima") and storms[2].matches("1909")
    assert storms[2].matches("1909 LEKIMA") and not storms[2].matches("1910")
    assert not storms[1].matches("0000")          # a nameless depression is not found by the placeholder


def test_a_data_line_without_its_wind_column_is_refused():
    text_ = SAMPLE.read_text().replace("2019080918 6 283 1215  930      52", "2019080918 6 283 1215  930")
    line = next(i for i, s in enumerate(text_.splitlines(), 1) if s.startswith("2019080918 6 283"))
    with pytest.raises(ty.BestTrackError) as exc:
        ty.parse_best_track("CH2019BST.txt", text_)
    assert (exc.value.file, exc.value.line, exc.value.field) == ("CH2019BST.txt", line, "wind")
    assert str(exc.value).startswith(f"CH2019BST.txt:{line}: field 'wind': missing")
    storms, errors = ty.parse_best_track("CH2019BST.txt", text_, strict=False)
    assert [(e.line, e.field) for e in errors] == [(line, "wind")]
    assert all(p.wind_ms is not None for s in storms for p in s.points)


def test_category_9_points_are_extratropical_not_a_class_from_their_wind():
    mitag = ty.parse_best_track(SAMPLE)[4]
    et = [p for p in mitag.points if p.category == 9]
    assert et and all(p.wind_ms >= 10.8 for p in et)        # winds of a depression or a storm ...
    assert {p.intensity for p in et} == {"ET"}                # ... but the class is extratropical
    assert ty.point_class(et[0]) == ("ET", "变性温带气旋", "Extratropical", 9)
    assert ty.point_class(mitag.points[0])[0] == ty.intensity_class(mitag.points[0].wind_ms)[0] == "TD"


# -- choosing the storm -----------------------------------------------------------------------------

def test_a_yearly_file_shows_the_storm_nearest_the_district_not_its_first(make_fd_app):
    # the twin's file is the 2019 file: in the demo period (2019-08-08 00 UTC + 70 h) Lekima and Krosa are alive
    app = make_fd_app(typhoon_file=str(SAMPLE))
    info = text(render_panel(app, f"{PLUGIN}.typhoon_info", {"track_time": "2019080906"}))
    assert "1909 利奇马" in info and "帕布" not in info          # a Chinese screen names storms in Chinese
    assert "2019-08-09 14:00" in info                         # the time asked, in BJT
    # the pinned time picks the storm alive then: in October, Mitag
    oct_info = text(render_panel(app, f"{PLUGIN}.typhoon_info", {"track_time": "2019100112"}, locale="en"))
    assert "1918 Mitag" in oct_info and "Centre" in oct_info


@pytest.mark.parametrize("asked,label", [("1901", "1901 帕布"), ("krosa", "1910 罗莎"), ("KROSA", "1910 罗莎"),
                                         ("1910 krosa", "1910 罗莎"), ("Lekima", "1909 利奇马")])
def test_the_storm_by_number_or_name_in_any_case(make_fd_app, asked, label):
    app = make_fd_app(typhoon_file=str(SAMPLE), typhoon_storm=asked)
    info = text(render_panel(app, f"{PLUGIN}.typhoon_info", {"track_time": "2019080906"}))
    assert label in info


def test_the_panel_option_storm_overrides_the_setting_and_an_unknown_storm_is_named(make_fd_app):
    app = make_fd_app(typhoon_file=str(SAMPLE), typhoon_storm="1909")
    info = text(render_panel(app, f"{PLUGIN}.typhoon_info", {"track_time": "2019080906", "storm": "krosa"}))
    assert "1910 罗莎" in info and "利奇马" not in info
    unknown = text(render_panel(app, f"{PLUGIN}.typhoon_info", {"track_time": "2019080906", "storm": "Hagibis"},
                                locale="en"))
    assert "No storm “Hagibis”" in unknown and "1909 Lekima" in unknown          # the list offered
    deck = render_panel(app, f"{PLUGIN}.typhoon_map", {"track_time": "2019080906", "storm": "Hagibis"})
    assert "centre" not in {layer["id"] for layer in deck["layers"]}


def test_a_time_outside_the_storms_life_is_said_not_drawn(make_fd_app):
    app = make_fd_app(typhoon_file=str(SAMPLE), typhoon_storm="PABUK")
    pabuk = ty.parse_best_track(SAMPLE)[0]
    last = pabuk.points[-1]
    opts = {"track_time": "2019080906"}
    zh = text(render_panel(app, f"{PLUGIN}.typhoon_info", opts))
    assert "2019-08-09 14:00(北京时)不在台风 1901 帕布 的生命期内" in zh
    assert "01-01 08:00 – 01-06 20:00" in zh                   # the storm's life in BJT
    assert f"{last.lat:.1f}°N" not in zh and "中心位置" not in zh
    en = text(render_panel(app, f"{PLUGIN}.typhoon_info", opts, locale="en"))
    assert "2019-08-09 14:00 (BJT) is outside the life of storm 1901 Pabuk" in en
    kpis = text(render_panel(app, f"{PLUGIN}.kpis", opts, locale="en"))
    assert "outside its life" in kpis and "m/s" in kpis and f"{last.wind_ms:.0f}" not in re.sub(r"\d{2,}px", "", kpis)
    deck = render_panel(app, f"{PLUGIN}.typhoon_map", opts, locale="en")
    ids = {layer["id"] for layer in deck["layers"]}
    assert "centre" not in ids and "circles" not in ids and {"track", "notice", "district"} <= ids
    notice = next(layer for layer in deck["layers"] if layer["id"] == "notice")
    assert "outside the life of storm 1901 Pabuk" in notice["data"][0]["text"]
    # inside its life the same storm is drawn where it is
    inside = render_panel(app, f"{PLUGIN}.typhoon_map", {"track_time": "2019010300"})
    centre = next(layer for layer in inside["layers"] if layer["id"] == "centre")["data"][0]["position"]
    assert centre == pytest.approx([105.6, 7.2])


def test_extratropical_points_on_the_map_and_the_figures(make_fd_app):
    app = make_fd_app(typhoon_file=str(SAMPLE), typhoon_storm="1918")
    deck = render_panel(app, f"{PLUGIN}.typhoon_map", {"track_time": "2019100300"}, locale="en")
    dots = next(layer for layer in deck["layers"] if layer["id"] == "points")["data"]
    et = [d for d in dots if d["cls"] == "ET"]
    assert et and all("Extratropical" in d["name"] for d in et)
    assert all(d["color"][:3] == [170, 150, 220] for d in et)
    assert not any(d["cls"] == "ET" for d in dots if "10-01" in d["name"])
    kpis = text(render_panel(app, f"{PLUGIN}.kpis", {"track_time": "2019100300"}))
    assert "变性温带气旋" in kpis and "热带" not in kpis.replace("变性温带气旋", "")
    info = text(render_panel(app, f"{PLUGIN}.typhoon_info", {"track_time": "2019100300"}, locale="en"))
    assert "1918 Mitag · Extratropical (ET)" in info
    # the demo Lekima's last points are category 9 too (10-12 m/s, which the wind alone calls TD)
    demo = make_fd_app()
    deck = render_panel(demo, f"{PLUGIN}.typhoon_map", {"track_time": "2019081212", "storm": "1909"})
    late = [d for d in next(layer for layer in deck["layers"] if layer["id"] == "points")["data"]
            if d["name"].startswith("08-13 14")]
    assert late and late[0]["cls"] == "ET"


# -- uploads ----------------------------------------------------------------------------------------

def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(app, name: str, password: str):
    client = app.server.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"username": name, "password": password, "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return client


URL = "/plugins/flood_defence/admin/best-track"


def test_upload_from_admin_for_a_manager_with_file_line_field_errors(make_fd_app):
    from core.data.users import Users
    app = make_fd_app(public_screens=False)
    host = host_of(app)
    users = Users(host.store)
    users.add("viewer1", "viewer-pass-1", "viewer", "test")
    users.add("manager1", "manager-pass-1", "manager", "test")
    content = SAMPLE.read_bytes()

    viewer = login(app, "viewer1", "viewer-pass-1")
    assert viewer.get(URL).status_code == 403
    token = csrf_of(viewer.get("/login").get_data(as_text=True))
    resp = viewer.post(URL, data={"csrf_token": token, "file": (io.BytesIO(content), "CH2019BST.txt")},
                       content_type="multipart/form-data")
    assert resp.status_code == 403 and best_track_entities(app) == []

    manager = login(app, "manager1", "manager-pass-1")
    page = manager.get(URL)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "台风最佳路径文件" in html and "尚未上传" in html
    assert "1909 Lekima" in html                             # the twin's demo file, chosen for the demo period
    token = csrf_of(html)

    # a file whose line lacks its wind column, and another with a bad longitude: both named, nothing stored
    bad = content.decode().replace("2019080918 6 283 1215  930      52", "2019080918 6 283 1215  930")
    mitag_line = next(s for s in bad.splitlines() if s.startswith("2019100112"))
    bad = bad.replace(mitag_line, mitag_line[:17] + "12x8" + mitag_line[21:])
    lines = bad.splitlines()
    wind_line = next(i for i, s in enumerate(lines, 1) if s.startswith("2019080918 6 283"))
    lon_line = next(i for i, s in enumerate(lines, 1) if "12x8" in s)
    resp = manager.post(URL + "?lang=en", content_type="multipart/form-data",
                        data={"csrf_token": token, "file": (io.BytesIO(bad.encode()), "CH2019BST.txt")})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400, html
    assert "Import refused, nothing stored" in html
    assert f"CH2019BST.txt:{wind_line}: field &#39;wind&#39;: missing" in html
    assert f"CH2019BST.txt:{lon_line}: field &#39;lon&#39;: not an integer" in html
    assert best_track_entities(app) == []

    # without the CSRF token: refused
    resp = manager.post(URL, data={"file": (io.BytesIO(content), "CH2019BST.txt")}, content_type="multipart/form-data")
    assert resp.status_code == 400 and best_track_entities(app) == []

    resp = manager.post(URL + "?lang=en", data={"csrf_token": token, "file": (io.BytesIO(content), "CH2019BST.txt")},
                        content_type="multipart/form-data")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200, html
    assert "Stored: 5 storms" in html and "1918 Mitag" in html
    [ent] = best_track_entities(app)
    assert (ent.id, ent.name, ent.properties["uploaded_by"]) == ("flood_defence.best_track.CH2019BST.txt",
                                                                 "CH2019BST.txt", "manager1")
    assert [a.action for a in host.store.audit_log(5)][0] == "flood_defence.best_track.import"

    # the panels now offer the uploaded storms: by name, with the demo file's twin still there
    opts = {"track_time": "2019100112", "storm": "mitag"}
    assert "1918 米娜" in text(render_panel(app, f"{PLUGIN}.typhoon_info", opts))

    # withdrawn: no longer offered
    resp = manager.post(URL + "?lang=en", data={"csrf_token": token, "drop": "CH2019BST.txt"})
    assert resp.status_code == 200
    assert "No storm “mitag”" in text(render_panel(app, f"{PLUGIN}.typhoon_info", opts, locale="en"))


def test_cli_import_list_and_drop(tmp_path, capsys):
    from conftest import write_config
    from core.cli import main
    from core.data.store import open_store
    cfg = write_config(tmp_path)
    store = open_store(f"sqlite:///{tmp_path / 'twin.sqlite'}")

    bad = tmp_path / "CH2019BST.txt"
    first = next(s for s in SAMPLE.read_text().splitlines() if s.startswith("2019092700"))
    bad.write_text(SAMPLE.read_text().replace(first, first.rsplit(" ", 1)[0].rstrip()))
    line = next(i for i, s in enumerate(bad.read_text().splitlines(), 1) if s.startswith("2019092700"))
    assert main(["--config", str(cfg), "typhoon", "import", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"twinboard: {bad}:{line}: field 'wind': missing" in err
    assert "refused, nothing stored (1 error)" in err
    assert store.entities(kind="best_track") == []

    good = tmp_path / "good" / "CH2019BST.txt"
    good.parent.mkdir()
    good.write_bytes(SAMPLE.read_bytes())
    assert main(["--config", str(cfg), "typhoon", "import", str(good), "--actor", "li"]) == 0
    out = capsys.readouterr().out
    assert "stored CH2019BST.txt: 5 storms" in out and "1909 1909 Lekima" in out
    [ent] = store.entities(kind="best_track")
    assert ent.properties["uploaded_by"] == "li" and ent.properties["text"] == SAMPLE.read_text()
    assert main(["--config", str(cfg), "typhoon", "list"]) == 0
    assert "CH2019BST.txt  uploaded" in capsys.readouterr().out
    assert main(["--config", str(cfg), "typhoon", "drop", "CH2019BST.txt"]) == 0
    assert main(["--config", str(cfg), "typhoon", "drop", "CH2019BST.txt"]) == 1
    capsys.readouterr()
    assert main(["--config", str(cfg), "typhoon", "list"]) == 0
    assert "no best-track file uploaded" in capsys.readouterr().out
