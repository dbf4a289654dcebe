"""`twinboard worker` in process: the lease makes one worker active, a failing plugin does not stop the others."""

from __future__ import annotations

import time
from pathlib import Path

from core.runtime.worker import Worker
from core.settings import Settings
from multiproc import wait_until

PLUGIN = '''
from core.api import Reading, SourceSpec, hookimpl

def _poll(ctx):
    if {fail}:
        raise RuntimeError("sensor bus unplugged")
    return [Reading("{name}.meter", "v", time.time(), 1.0)]

import time

@hookimpl
def register_sources():
    return [SourceSpec("poll", interval_s=0.1, poll=_poll)]
'''


def _plugin(root: Path, name: str, fail: bool) -> None:
    d = root / name
    d.mkdir(parents=True)
    (d / "plugin.toml").write_text(f'name = "{name}"\nversion = "0.1.0"\napi_version = ">=1.0,<2"\n'
                                   f'description = "test"\n\n[title]\nzh = "{name}"\nen = "{name}"\n')
    (d / "__init__.py").write_text(PLUGIN.format(name=name, fail=fail))


def test_one_worker_runs_sources_and_a_failing_plugin_keeps_the_others_running(tmp_path: Path) -> None:
    _plugin(tmp_path / "plugins", "good", fail=False)
    _plugin(tmp_path / "plugins", "bad", fail=True)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'w.sqlite'}", var_dir=tmp_path / "var",
                        plugins_dir=tmp_path / "plugins", entry_points=False)
    first, second = Worker(settings, ttl_s=2), Worker(settings, ttl_s=2)
    for w in (first, second):
        w.host.relay.notifier.interval_s = 0.05
        w.host.start()
    try:
        first.step()
        second.step()
        assert first.active and not second.active  # the second stands by
        assert second.host.runtime.heartbeats() == {}
        store = first.host.store
        wait_until(lambda: store.series("good.meter", "v"), 10, "the good plugin's source writes")
        wait_until(lambda: first.host.plugins.records["bad"].status.value == "failed", 10, "the bad plugin fails")
        n = len(store.series("good.meter", "v"))
        time.sleep(0.5)
        assert len(store.series("good.meter", "v")) > n  # and the good one keeps writing
        first.shutdown()  # a clean stop hands the lease over at once
        second.step()
        assert second.active and second.host.runtime.heartbeats()
    finally:
        first.shutdown()
        second.shutdown()
