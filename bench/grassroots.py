"""Grassroots (issue 15): how long a grid worker's hazard report takes, against a bare upload.

- ``patrol_p95_ms``: N simulated grid workers (50; each a ``field`` user signed in to its own session, on
  an enterprise grid) each submit a hazard report with a 300 KB photo through the real route
  (``POST /plugins/grid_patrol/api/reports`` of a served twinboard, ``run.py``: gunicorn, the real store,
  bus and plugins), all at once. A report's time runs from just before its POST until the report is stored
  *and* the enterprise park's loop holds the hazard it opened (``GET .../api/reports/<id>`` answers with a
  non-empty ``loop``; asked again until it does). The figure is the 95th percentile over all reports.
- ``bare_p95_ms``: the same burst of the same multipart POSTs, with the same photo, to a bare Flask app on
  loopback (werkzeug's threaded server) that only writes the photo to disk and answers.
- ``patrol_ratio`` = ``patrol_p95_ms / bare_p95_ms`` (aim ≤ 3): what validation (the photo decoded by
  Pillow), the record and its audit entry, the bus event, the enterprise park's hazard and the roles cost on
  top of receiving and storing the photo.

Run: ``.venv/bin/python bench/grassroots.py`` (50 workers, 3 rounds); ``--quick`` (12 workers, 1 round) for
a smoke run. The last stdout line is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

ENTERPRISE_GRIDS = ("gp.grid.xiachen-2", "gp.grid.hongjia-1", "gp.grid.qiansuo-1", "gp.grid.sanjia-2")


def photo_300kb(target: int = 300 * 1024) -> bytes:
    """A JPEG of about ``target`` bytes (a noisy picture, as a phone's shrunken photo is)."""
    from PIL import Image
    rng = np.random.default_rng(15)
    base = rng.integers(0, 255, (900, 1200, 3), dtype=np.uint8)
    img = Image.fromarray(base)
    lo, hi, best = 5, 95, b""
    while lo <= hi:
        q = (lo + hi) // 2
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=q)
        if len(buf.getvalue()) <= target:
            best, lo = buf.getvalue(), q + 1
        else:
            hi = q - 1
    return best


def p95(values: list[float]) -> float:
    return float(np.percentile(np.array(values) * 1000.0, 95))


def burst(n: int, fn) -> list[float]:
    """Run ``fn(i)`` in ``n`` threads released together; their durations (s)."""
    gate = threading.Barrier(n)
    out: list[float | None] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        gate.wait()
        t0 = time.perf_counter()
        try:
            fn(i)
            out[i] = time.perf_counter() - t0
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{len(errors)} of {n} submissions failed, e.g. {errors[0]!r}")
    return [x for x in out if x is not None]


# -- twinboard -------------------------------------------------------------------------------------------
def sessions(url: str, store, n: int) -> list[tuple[requests.Session, str, str]]:
    """``n`` field users on the enterprise grids, each signed in: (session, grid, an enterprise point)."""
    from core.data.users import Users
    from core.plugins.manager import import_plugin_submodule
    model = import_plugin_submodule(ROOT / "plugins" / "grid_patrol", "model")
    twin = model.load_twin(store)
    users = Users(store)
    out = []
    for i in range(n):
        grid = ENTERPRISE_GRIDS[i % len(ENTERPRISE_GRIDS)]
        point = next(p.id for p in twin.grid_points(grid) if p.enterprise)
        name = f"gw{i:03d}"
        users.add(name, "bench-password", "field", "bench", scope=f"grid:{grid}")
        s = requests.Session()
        token = re.search(r'name="csrf_token" value="([^"]+)"', s.get(url + "/login").text).group(1)
        r = s.post(url + "/login", data={"username": name, "password": "bench-password", "csrf_token": token},
                   allow_redirects=False)
        if r.status_code != 302:
            raise SystemExit(f"sign-in of {name} failed: {r.status_code}")
        s.get(url + "/m/patrol")          # the phone page: the CSRF cookie of this session
        out.append((s, grid, point))
    return out


def patrol_round(url: str, people: list, photo: bytes) -> list[float]:
    def submit(i: int) -> None:
        s, grid, point = people[i]
        key = uuid.uuid4().hex
        r = s.post(url + "/plugins/grid_patrol/api/reports",
                   data={"key": key, "grid": grid, "point": point, "category": "fire", "level": "general",
                         "description": f"压测上报 {key[:6]}:消防通道堵塞", "manual": "1"},
                   files={"photo": ("photo.jpg", photo, "image/jpeg")},
                   headers={"X-CSRFToken": s.cookies.get("_csrf_token", "")}, timeout=120)
        if r.status_code != 201:
            raise RuntimeError(f"report answered {r.status_code}: {r.text[:200]}")
        rid = r.json()["id"]
        for _ in range(600):
            got = s.get(f"{url}/plugins/grid_patrol/api/reports/{rid}", timeout=60).json()
            if got.get("loop"):
                return
            time.sleep(0.01)
        raise RuntimeError(f"report {rid} never reached the enterprise park's loop")
    return burst(len(people), submit)


# -- the bare upload ---------------------------------------------------------------------------------------
def bare_server(folder: Path):
    """A Flask app that writes the posted photo to disk and answers its name (werkzeug, threaded)."""
    import logging

    import flask
    from werkzeug.serving import make_server
    logging.getLogger("werkzeug").setLevel(logging.ERROR)      # no line per request on stdout
    app = flask.Flask("bare")
    app.config["MAX_CONTENT_LENGTH"] = 8 * 1024 * 1024

    @app.post("/upload")
    def upload():
        f = flask.request.files["photo"]
        name = uuid.uuid4().hex + ".jpg"
        f.save(folder / name)
        return flask.jsonify({"id": name, "key": flask.request.form.get("key")}), 201
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_port}"


def bare_round(url: str, n: int, photo: bytes, ses: list[requests.Session]) -> list[float]:
    def submit(i: int) -> None:
        key = uuid.uuid4().hex
        r = ses[i].post(url + "/upload", data={"key": key, "category": "fire", "description": "压测上报:消防通道堵塞"},
                        files={"photo": ("photo.jpg", photo, "image/jpeg")}, timeout=120)
        if r.status_code != 201:
            raise RuntimeError(f"bare upload answered {r.status_code}")
    return burst(n, submit)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="12 workers, 1 round (a smoke run)")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=None)
    args = ap.parse_args()
    n = args.workers or (12 if args.quick else 50)
    rounds = args.rounds or (1 if args.quick else 3)
    photo = photo_300kb()
    from liveserver import serve

    from core.data.store import open_store
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        cfg = {"root": str(ROOT), "database_url": f"sqlite:///{tmp / 'twin.sqlite'}", "var_dir": str(tmp / "var"),
               "public_screens": True, "plugin_allowlist": ["grid_patrol", "enterprise_park"],
               "plugins": {"enterprise_park": {"settings": {"demo_publisher": False, "demo_inspections": False}},
                           "grid_patrol": {"settings": {"demo_history": False, "demo_live": False}}}}
        proc, url = serve(cfg, tmp / "settings.yaml")
        bare, bare_url = bare_server(tmp)
        try:
            store = open_store(cfg["database_url"])
            people = sessions(url, store, n)
            bare_ses = [requests.Session() for _ in range(n)]
            patrol_round(url, people[: min(4, n)], photo)          # warm both once (imports, first SQL)
            bare_round(bare_url, min(4, n), photo, bare_ses)
            patrol, plain = [], []
            for _ in range(rounds):
                patrol += patrol_round(url, people, photo)
                plain += bare_round(bare_url, n, photo, bare_ses)
            stored = sum(1 for e in store.entities(kind="patrol_report"))
            loop = sum(1 for i in store.entities(kind="inspection") if (i.properties or {}).get("ref"))
        finally:
            bare.shutdown()
            proc.terminate()
            proc.wait(15)
    out = {"patrol_p95_ms": round(p95(patrol), 1), "bare_p95_ms": round(p95(plain), 1),
           "patrol_ratio": round(p95(patrol) / p95(plain), 2),
           "patrol_median_ms": round(float(np.median(patrol)) * 1000, 1),
           "bare_median_ms": round(float(np.median(plain)) * 1000, 1),
           "workers": n, "rounds": rounds, "photo_kb": round(len(photo) / 1024, 1),
           "reports_stored": stored, "hazards_in_loop": loop}
    print(f"{n} workers × {rounds} rounds, photo {out['photo_kb']} KB: report p95 {out['patrol_p95_ms']} ms "
          f"(median {out['patrol_median_ms']}), bare upload p95 {out['bare_p95_ms']} ms → ratio {out['patrol_ratio']}")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
