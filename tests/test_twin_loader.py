"""Twin definitions load idempotently; bad files name file, line or feature, and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.data.twin_loader import load_twin_files

ROOT = Path(__file__).resolve().parent.parent
DEMO = [ROOT / "twin_models" / "demo_sensors" / "boundary.geojson", ROOT / "twin_models" / "demo_sensors" / "site.yaml"]


def test_loading_twice_changes_nothing(twin_store) -> None:
    n1 = load_twin_files(twin_store, DEMO, plugin="demo_sensors")
    before = [(e.id, e.name, e.geometry) for e in twin_store.entities()]
    n2 = load_twin_files(twin_store, DEMO, plugin="demo_sensors")
    assert n1 == n2 == len(before) and [(e.id, e.name, e.geometry) for e in twin_store.entities()] == before
    with twin_store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM relation").scalar() == 4


def test_bad_yaml_entity_names_line_and_field(twin_store, tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("entities:\n  - id: a\n    kind: tank\n    name: 罐\n    lon: 500\n    lat: 28\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_twin_files(twin_store, [f])
    assert err.value.line == 5 and err.value.field == "entities.0.lon"
    assert twin_store.entities() == []


def test_bad_geojson_feature_named(twin_store, tmp_path: Path) -> None:
    f = tmp_path / "bad.geojson"
    f.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"id": "x",'
                 ' "name": "无类型"}, "geometry": null}]}', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad.geojson: field 'features.0.properties.kind'"):
        load_twin_files(twin_store, [f])
