"""The site's own learning loop: reviewed alarms become labelled examples (boxes drawn in the browser),
``twinboard smoke retrain`` fine-tunes a candidate holding out whole cameras, the manager compares it with
the current model in /admin, promotes it (the running detector switches) and rolls it back.

The model is the shipped YOLO11n fine-tuned for one epoch at 160 px on a few synthetic frames: small
enough for a CPU in a test, and the real code path (ultralytics offline, registry, settings relay)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from core.api import AlertDraft, Severity
from core.data.store import open_store
from core.data.users import Users
from plugins.forest_fire.smoke.examples import (ExampleError, NegativeSampler, add_example, counts, data_root,
                                                list_examples)
from plugins.forest_fire.smoke.registry import Registry
from plugins.forest_fire.smoke.retrain import RetrainRefused, plan_splits, retrain
from tests.conftest import ROOT, start_server

SHIPPED = ROOT / "twin_models" / "forest_fire" / "smoke_yolo11n.pt"
NO_NETWORK = ("import socket\n"
              "def _deny(*a, **k):\n    raise OSError('network connection attempted')\n"
              "socket.socket.connect = socket.socket.connect_ex = _deny\n"
              "socket.create_connection = socket.getaddrinfo = _deny\n")
CAMS = ["forest_fire.cam_ta", "forest_fire.cam_tb", "forest_fire.cam_tc", "forest_fire.cam_td"]


def scene(seed: int, smoke_box: tuple[float, float, float, float] | None, w: int = 320, h: int = 240) -> np.ndarray:
    """A hill view (sky gradient, ridge, noise); with a grey plume filling ``smoke_box``."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    sky = np.linspace(200, 140, h)[:, None]
    img[..., 0], img[..., 1], img[..., 2] = sky + 30, sky + 10, sky - 20
    ridge = (h * (0.55 + 0.08 * np.sin(np.arange(w) / (17 + seed % 7) + seed))).astype(int)
    for x in range(w):
        img[ridge[x]:, x] = (40 + seed % 20, 90 + seed % 30, 50)
    if smoke_box is not None:
        x1, y1, x2, y2 = (int(smoke_box[0] * w), int(smoke_box[1] * h), int(smoke_box[2] * w), int(smoke_box[3] * h))
        yy, xx = np.mgrid[y1:y2, x1:x2]
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        a = np.exp(-(((xx - cx) / ((x2 - x1) / 2.2)) ** 2 + ((yy - cy) / ((y2 - y1) / 2.2)) ** 2))[..., None]
        img[y1:y2, x1:x2] = img[y1:y2, x1:x2] * (1 - 0.8 * a) + 225 * 0.8 * a
    img += rng.normal(0, 3, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def seed_examples(store, root: Path, per_cam: int = 6) -> None:
    for ci, cam in enumerate(CAMS):
        for k in range(per_cam):
            x = 0.2 + 0.1 * (k % 5)
            box = (x, 0.3, x + 0.18, 0.58)
            add_example(store, root, cam, scene(100 * ci + k, box), "smoke", [list(box)], "import", "test")
            add_example(store, root, cam, scene(100 * ci + 50 + k, None), "no_smoke", [], "import", "test")


def test_bad_examples_name_the_field_and_store_nothing(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 's.sqlite'}")
    img = scene(1, (0.3, 0.3, 0.5, 0.6))
    cases = [({"camera": "", "label": "smoke", "boxes": [[0.1, 0.1, 0.2, 0.2]]}, "camera"),
             ({"camera": "c", "label": "fire", "boxes": []}, "label"),
             ({"camera": "c", "label": "smoke", "boxes": []}, "boxes"),
             ({"camera": "c", "label": "smoke", "boxes": [[0.5, 0.1, 0.2, 0.2]]}, "boxes[0]"),
             ({"camera": "c", "label": "smoke", "boxes": [[0.1, 0.1, 0.2, 1.7]]}, "boxes[0]"),
             ({"camera": "c", "label": "no_smoke", "boxes": [[0.1, 0.1, 0.2, 0.2]]}, "boxes")]
    for kw, field in cases:
        with pytest.raises(ExampleError) as err:
            add_example(store, tmp_path, image=img, **kw)
        assert err.value.field == field, (kw, str(err.value))
    with pytest.raises(ExampleError) as err:
        add_example(store, tmp_path, "c", b"not a jpeg", "no_smoke")
    assert err.value.field == "image"
    assert store.entities(kind="smoke_example") == [] and not (tmp_path / "forest_fire").exists()


def test_too_few_examples_refuses_with_the_counts_it_needs(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 's.sqlite'}")
    for k in range(3):
        add_example(store, tmp_path, CAMS[k % 2], scene(k, (0.3, 0.3, 0.5, 0.6)), "smoke", [[0.3, 0.3, 0.5, 0.6]])
        add_example(store, tmp_path, CAMS[k % 2], scene(10 + k, None), "no_smoke")
    with pytest.raises(RetrainRefused) as err:
        retrain(store, tmp_path, SHIPPED, command="test", epochs=1)
    msg = str(err.value)
    assert "20 smoke examples (have 3)" in msg and "20 smoke-free examples (have 3)" in msg
    assert "examples from 3 cameras (have 2)" in msg
    assert Registry(store, tmp_path).versions() == []       # nothing registered, nothing trained
    # the CLI says the same and exits 3
    cfg = tmp_path / "settings.yaml"
    cfg.write_text(yaml.safe_dump({"root": str(ROOT), "database_url": f"sqlite:///{tmp_path / 's.sqlite'}",
                                   "plugin_allowlist": ["forest_fire"],
                                   "plugins": {"forest_fire": {"settings": {"data_dir": str(tmp_path)}}}}))
    out = subprocess.run([sys.executable, "-c", "from core.cli import main; raise SystemExit(main())", "--config",
                          str(cfg), "smoke", "retrain", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 3, out.stderr[-2000:]
    res = json.loads(out.stdout)
    assert res["state"] == "refused" and "20 smoke examples (have 3)" in res["message"]
    job = store.entity(res["job"])
    assert job.properties["state"] == "refused" and "smoke retrain" in job.properties["command"]


def test_splits_hold_out_whole_cameras(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 's.sqlite'}")
    seed_examples(store, tmp_path, per_cam=2)
    add_example(store, tmp_path, "forest_fire.cam_ta@west", scene(7, None), "no_smoke")
    splits = plan_splits(list_examples(store, tmp_path), seed=0)
    units = {s: {x.unit for x in xs} for s, xs in splits.items()}
    assert units["test"] and units["threshold"] and units["train"]
    assert not (units["test"] & units["train"]) and not (units["test"] & units["threshold"])
    assert not (units["threshold"] & units["train"])
    # a PTZ preset goes where its camera goes
    where = next(s for s, xs in splits.items() if any(x.camera == "forest_fire.cam_ta" for x in xs))
    assert any(x.camera == "forest_fire.cam_ta@west" for x in splits[where])
    with pytest.raises(RetrainRefused, match="test_units: no examples of camera 'nope'"):
        plan_splits(list_examples(store, tmp_path), test_units=["nope"])


def test_sampler_spreads_smoke_free_frames_over_the_day(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 's.sqlite'}")
    s = NegativeSampler(tmp_path, every_s=600, per_bucket=2)
    day = time.mktime((2026, 5, 1, 0, 0, 0, 0, 0, -1))
    frame = scene(3, None)
    kept = [s.offer(store, CAMS[0], frame, day + 9 * 3600 + i * 300, 0, False) for i in range(12)]
    # every 10 minutes at most, then the 09:00 bucket is full (2)
    assert [k is not None for k in kept][:5] == [True, False, True, False, False]
    assert s.offer(store, CAMS[0], frame, day + 14 * 3600, 0, False) is not None      # another hour: new bucket
    assert s.offer(store, CAMS[0], frame, day + 15 * 3600, 2, False) is None          # the detector saw something
    assert s.offer(store, CAMS[0], frame, day + 16 * 3600, 0, True) is None           # an alert is on
    night = (frame * 0.1).astype(np.uint8)
    ex = s.offer(store, CAMS[0], night, day + 23 * 3600, 0, False)
    assert ex is not None and ex.meta["conditions"] == "night" and ex.meta["bucket"] == "23:night"
    rows = list_examples(store, tmp_path)
    assert counts(rows) == {CAMS[0]: {"smoke": 0, "no_smoke": 4}}
    assert {r.meta["hour"] for r in rows} == {9, 14, 23} and all(r.source == "sampler" for r in rows)
    # a fresh sampler (another process, a restart) counts what is stored: the 09:00 bucket stays full
    assert NegativeSampler(tmp_path, 600, 2).offer(store, CAMS[0], frame, day + 9 * 3600 + 3000, 0, False) is None


def _metrics(f1: float, flagged: float) -> dict:
    cam = {"f1": f1, "recall": f1, "precision": 1.0, "negative_flagged_share": flagged, "ap50": f1,
           "n_images": 4, "n_positive": 2, "n_negative": 2}
    return {"overall": {**cam, "conf": 0.3}, "per_camera": {CAMS[0]: dict(cam), CAMS[1]: dict(cam)}}


def test_a_worse_candidate_says_so_and_needs_confirmation_to_promote(make_twin_app, tmp_path):
    """The compare page on a candidate worse on one camera: the warning, the refusal without the explicit
    confirmation, promotion with it (setting stored for every process), roll-back; audited."""
    import re
    if not SHIPPED.exists():
        pytest.skip("shipped weights missing")
    data = tmp_path / "learn"
    app = make_twin_app(plugins_dir=ROOT / "plugins", plugin_allowlist=["forest_fire"], run_sources=False,
                        plugin_config={"forest_fire": {"settings": {"data_dir": str(data), "demo_feeds": False}}})
    host = app.server.config["TWINBOARD_HOST"]
    reg = Registry(host.store, data)
    reg.ensure_base(SHIPPED)
    cand, parent = _metrics(0.8, 0.0), _metrics(0.8, 0.0)
    cand["per_camera"][CAMS[1]].update(f1=0.5, negative_flagged_share=0.5)
    v1 = reg.add_candidate(SHIPPED, {"parent": 0, "conf": 0.3, "imgsz": 160, "licence": "L", "command": "c",
                                     "data_hash": "0" * 64, "worse_cameras": [CAMS[1]], "previews": [],
                                     "splits": {"train": [CAMS[2]], "threshold": [CAMS[3]], "test": CAMS[:2]},
                                     "metrics": {"candidate": cand, "parent": parent, "parent_version": 0}}, "test")
    Users(host.store).add("mgr", "password-1", "manager", "test")
    Users(host.store).add("duty", "password-1", "viewer", "test")
    c = app.server.test_client()

    def token() -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").get_data(as_text=True)).group(1)

    c.post("/login", data={"username": "duty", "password": "password-1", "csrf_token": token()})
    assert c.get("/plugins/forest_fire/admin/models").status_code == 403           # managers only
    c.post("/logout", data={"csrf_token": token()})
    c.post("/login", data={"username": "mgr", "password": "password-1", "csrf_token": token()})
    page = c.get("/plugins/forest_fire/admin/models?lang=en").get_data(as_text=True)
    assert 'id="ff-worse"' in page and "WORSE" in page and CAMS[1] in page.split('id="ff-worse"')[1][:400]
    assert page.count("ff-cam-row ff-worse-row") == 1 and 'id="ff-accept-worse"' in page
    r = c.post(f"/plugins/forest_fire/admin/models/v{v1.version}/promote", json={}, headers={"X-CSRFToken": token()})
    assert r.status_code == 400 and "worse than v0 on " + CAMS[1] in r.get_json()["message"]
    assert reg.get(1).state == "candidate" and host.store.plugin_state("forest_fire") is None
    r = c.post(f"/plugins/forest_fire/admin/models/v{v1.version}/promote", json={"accept_worse": True},
               headers={"X-CSRFToken": token()})
    assert r.status_code == 200, r.get_json()
    assert reg.get(1).state == "current" and reg.get(0).state == "retired"
    assert host.plugins.records["forest_fire"].settings.model_path.endswith("smoke_v1.pt")
    assert host.store.plugin_state("forest_fire").settings["model_path"].endswith("smoke_v1.pt")
    r = c.post("/plugins/forest_fire/admin/models/rollback", json={}, headers={"X-CSRFToken": token()})
    assert r.status_code == 200 and reg.get(0).state == "current" and reg.get(1).state == "rolled_back"
    assert host.plugins.records["forest_fire"].settings.model_path == ""
    r = c.post("/plugins/forest_fire/admin/models/rollback", json={}, headers={"X-CSRFToken": token()})
    assert r.status_code == 400 and "nothing to roll back" in r.get_json()["message"]
    promo = next(e for e in host.store.audit_log() if e.action == "forest_fire.model.promote")
    assert promo.actor == "mgr" and promo.new["accepted_worse"] == [CAMS[1]]


def test_review_with_bad_boxes_changes_nothing(make_twin_app, tmp_path):
    app = make_twin_app(plugins_dir=ROOT / "plugins", plugin_allowlist=["forest_fire"], run_sources=False,
                        plugin_config={"forest_fire": {"settings": {"data_dir": str(tmp_path / "l")}}})
    host = app.server.config["TWINBOARD_HOST"]
    a = host.raise_alert("forest_fire", AlertDraft("forest_fire.smoke", CAMS[0], Severity.II, "t", "t", 0.3,
                                                   {"box": [0.4, 0.3, 0.5, 0.5], "camera": CAMS[0]}))
    import re
    Users(host.store).add("duty", "password-1", "viewer", "test")
    c = app.server.test_client()
    tok = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").get_data(as_text=True)).group(1)
    c.post("/login", data={"username": "duty", "password": "password-1", "csrf_token": tok})
    c.environ_base["HTTP_X_CSRFTOKEN"] = re.search(r'name="csrf_token" value="([^"]+)"',
                                                   c.get("/login").get_data(as_text=True)).group(1)
    for boxes, field in (("[[0.5, 0.2, 0.1, 0.3]]", "boxes[0]"), ("nope", "boxes")):
        r = c.post(f"/plugins/forest_fire/review/{a.id}", json={"verdict": "confirm", "boxes": json.loads(boxes)
                                                                 if boxes.startswith("[") else boxes})
        assert r.status_code == 400 and r.get_json()["field"] == field
    r = c.post(f"/plugins/forest_fire/review/{a.id}", json={"verdict": "dismiss", "boxes": [[0.1, 0.1, 0.3, 0.3]]})
    assert r.status_code == 400 and r.get_json()["field"] == "boxes"
    assert [x.state for x in host.store.alerts() if x.id == a.id] == ["open"]
    # no raw frame kept for this alert: the verdict stands, the example is refused with the reason
    r = c.post(f"/plugins/forest_fire/review/{a.id}", json={"verdict": "confirm"})
    assert r.status_code == 200 and r.get_json()["example"] is None and "no kept frame" in r.get_json()["example_error"]


# -- the whole loop in Chromium ----------------------------------------------------------------------
def _twin(tmp: Path) -> Path:
    frames = tmp / "feed"
    frames.mkdir()
    for i in range(2):
        cv2.imwrite(str(frames / f"f{i}.jpg"), scene(900 + i, None))
    ents = [{"id": cam, "kind": "camera", "name": f"测试点{i}", "name_en": f"Test {i}", "lon": 121.4 + i / 100,
             "lat": 28.65, "properties": {"bearing_deg": 30, "fov_deg": 60, "range_m": 5000,
                                          "stream": str(frames) if i == 0 else str(tmp / "none"),
                                          "interval_s": 3 if i == 0 else 3600}}
            for i, cam in enumerate(CAMS)]
    path = tmp / "cams.yaml"
    path.write_text(yaml.safe_dump({"entities": ents}, allow_unicode=True), encoding="utf-8")
    return path


def _status(url: str) -> dict:
    with urllib.request.urlopen(url + "/plugins/forest_fire/status.json", timeout=10) as r:
        return json.loads(r.read())


def _wait_model(url: str, name: str, timeout: float = 90) -> dict:
    deadline = time.time() + timeout
    st: dict = {}
    while time.time() < deadline:
        st = _status(url)
        if (st.get("model") or "").endswith(name) and st["cameras"][CAMS[0]]["frames"] > 0:
            return st
        time.sleep(0.5)
    raise AssertionError(f"the detector did not switch to {name}: {st}")


@pytest.mark.browser
def test_review_retrain_compare_promote_rollback_in_chromium(tmp_path, chromium):
    if not SHIPPED.exists():
        pytest.skip("shipped weights missing")
    data = tmp_path / "learn"
    settings = {"twin_files": [str(_twin(tmp_path))], "data_dir": str(data), "demo_feeds": False,
                "sample_every_min": 0, "night_mode": "detect"}
    srv = start_server(tmp_path, plugin_allowlist=["forest_fire"], plugins={"forest_fire": {"settings": settings}})
    store = open_store(f"sqlite:///{tmp_path / 'twin.sqlite'}")
    try:
        Users(store).add("mgr", "password-1", "manager", "test")
        root = data_root(data_dir=str(data))
        seed_examples(store, root)
        # three alarms as the camera source raises them: a snapshot name, and the raw frame kept beside it
        alerts = []
        for i, cam in enumerate(CAMS[:3]):
            name = f"{cam.split('.')[-1]}_{1000 + i}.jpg"
            (root / "forest_fire" / "alert_frames").mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / "forest_fire" / "alert_frames" / name), scene(700 + i, (0.4, 0.3, 0.6, 0.6)))
            a, _ = store.raise_alert(AlertDraft("forest_fire.smoke", cam, Severity.II, "疑似林火烟雾", "test", 0.4, {
                "box": [0.42, 0.32, 0.58, 0.58], "score": 0.4, "snapshot": f"/plugins/forest_fire/snapshot/{name}",
                "frame_time": time.time(), "camera": cam, "review": "pending"}), "forest_fire")
            alerts.append(a.id)
        page = chromium.new_page(viewport={"width": 1280, "height": 900})
        page.goto(srv.url + "/login")
        page.fill("input[name=username]", "mgr")
        page.fill("input[name=password]", "password-1")
        page.click("button[type=submit], input[type=submit]")
        page.wait_for_load_state()
        # ① confirm keeping the AI's box
        page.goto(f"{srv.url}/plugins/forest_fire/label/{alerts[0]}?lang=en")
        page.wait_for_function("document.getElementById('ff-frame').complete")
        page.click("#ff-confirm")
        page.wait_for_selector("#ff-example")
        # ② confirm with a box drawn on the frame
        page.goto(f"{srv.url}/plugins/forest_fire/label/{alerts[1]}?lang=en")
        page.wait_for_function("document.getElementById('ff-frame').complete && "
                               "document.getElementById('ff-canvas').width > 0")
        bb = page.locator("#ff-canvas").bounding_box()
        page.mouse.move(bb["x"] + 0.2 * bb["width"], bb["y"] + 0.25 * bb["height"])
        page.mouse.down()
        page.mouse.move(bb["x"] + 0.5 * bb["width"], bb["y"] + 0.7 * bb["height"], steps=6)
        page.mouse.up()
        assert page.locator("#ff-box-list li").count() == 1
        page.click("#ff-confirm")
        page.wait_for_selector("#ff-example")
        # ③ a false alarm
        page.goto(f"{srv.url}/plugins/forest_fire/label/{alerts[2]}?lang=en")
        page.click("#ff-dismiss")
        page.wait_for_selector("#ff-example")
        ex = {i: store.entity(f"forest_fire.ex.alert{i}").properties for i in alerts}
        assert ex[alerts[0]]["label"] == "smoke" and ex[alerts[0]]["boxes"] == [[0.42, 0.32, 0.58, 0.58]]
        drawn = ex[alerts[1]]["boxes"]
        assert ex[alerts[1]]["label"] == "smoke" and len(drawn) == 1
        assert np.allclose(drawn[0], [0.2, 0.25, 0.5, 0.7], atol=0.02), drawn
        assert ex[alerts[1]]["meta"]["boxes_drawn"] is True and ex[alerts[1]]["source"] == "review"
        assert ex[alerts[2]]["label"] == "no_smoke" and ex[alerts[2]]["boxes"] == []
        assert {a.state for a in store.alerts(states=("acknowledged", "closed")) if a.id in alerts} == \
            {"acknowledged", "closed"}

        # ④ retrain through the CLI (synchronous here; /admin queues it on a Celery worker or a thread), with
        # every network connection refused: fine-tuning stays offline
        t0 = time.time()
        out = subprocess.run([sys.executable, "-c", NO_NETWORK + "from core.cli import main; raise SystemExit(main())",
                              "--config", str(srv.config), "smoke", "retrain", "--epochs", "1", "--imgsz", "160",
                              "--batch", "8", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, (out.stdout[-3000:], out.stderr[-3000:])
        res = json.loads(out.stdout[out.stdout.index("{"):])
        assert res["state"] == "done" and res["version"] == 1, res
        print(f"retrain took {time.time() - t0:.0f} s")
        reg = Registry(store, root)
        v0, v1 = reg.get(0), reg.get(1)
        assert v0.state == "current" and v1.state == "candidate" and v1.props["parent"] == 0
        assert len(v1.props["data_hash"]) == 64 and len(v1.props["sha256"]) == 64
        assert v1.props["command"].startswith(f"twinboard --config {srv.config} smoke retrain --epochs 1")
        assert "--imgsz 160" in v1.props["command"]
        assert "CC BY-NC-SA 4.0" in v1.props["licence"] and "this site's own" in v1.props["licence"]
        assert v1.path.is_file() and v1.path.name == "smoke_v1.pt" and v1.props["imgsz"] == 160
        sp = v1.props["splits"]
        test_cams = set(sp["test"])
        assert test_cams and not test_cams & (set(sp["train"]) | set(sp["threshold"]))
        m = v1.props["metrics"]
        assert set(m["candidate"]["per_camera"]) == set(m["parent"]["per_camera"]) == test_cams
        assert v1.props["previews"] and all(p["camera"] in test_cams for p in v1.props["previews"])

        # ⑤ the compare page: both models on the same held-out frames; promote
        page.goto(f"{srv.url}/plugins/forest_fire/admin/models?lang=en")
        assert page.get_attribute("#ff-compare", "data-version") == "1"
        rows = page.locator("#ff-compare-table .ff-cam-row")
        assert sorted(rows.nth(i).get_attribute("data-camera") for i in range(rows.count())) == sorted(test_cams)
        assert page.locator(".ff-preview").count() == len(v1.props["previews"])
        assert page.locator(".ff-preview img").count() == 2 * len(v1.props["previews"])
        if v1.worse_cameras:  # said prominently, and promotion needs an explicit confirmation
            assert "WORSE" in page.inner_text("#ff-worse")
            assert page.locator(".ff-worse-row").count() == len(v1.worse_cameras)
            page.click("#ff-promote")
            page.wait_for_selector(".tb-flash-error")
            assert "worse" in page.inner_text(".tb-flash-error") and reg.get(1).state == "candidate"
            page.check("#ff-accept-worse")
        else:
            assert page.locator("#ff-worse").count() == 0 and page.locator("#ff-not-worse").count() == 1
        assert _status(srv.url)["model"].endswith("smoke_yolo11n.pt")
        page.click("#ff-promote")
        page.wait_for_selector(".tb-flash-ok")
        assert reg.get(1).state == "current" and reg.get(0).state == "retired"
        st = _wait_model(srv.url, "smoke_v1.pt")                      # the running detector switched
        assert st["cameras"][CAMS[0]]["state"] == "online"
        assert store.plugin_state("forest_fire").settings["model_path"].endswith("smoke_v1.pt")
        # ⑥ roll back
        page.goto(f"{srv.url}/plugins/forest_fire/admin/models?lang=en")
        page.click("#ff-rollback")
        page.wait_for_selector(".tb-flash-ok")
        assert reg.get(1).state == "rolled_back" and reg.get(0).state == "current"
        _wait_model(srv.url, "smoke_yolo11n.pt")
        actions = [e.action for e in store.audit_log(300)]
        for a in ("forest_fire.review.confirm", "forest_fire.review.dismiss", "forest_fire.example.add",
                  "forest_fire.model.candidate", "forest_fire.model.promote", "forest_fire.model.rollback",
                  "plugin.settings"):
            assert a in actions, a
        promo = next(e for e in store.audit_log(300) if e.action == "forest_fire.model.promote")
        assert promo.actor == "mgr"
    finally:
        srv.stop()
