"""The pyronear-style temporal smoke rule on synthetic detection sequences."""

from __future__ import annotations

import random

import numpy as np

from plugins.forest_fire.rule import Detection, RuleParams, SmokeAlertRule

SMOKE = (0.40, 0.30, 0.48, 0.45)


def jitter(box, rng, d=0.01):
    return tuple(v + rng.uniform(-d, d) for v in box)


def run(rule, seq, t0=0.0, dt=30.0):
    return [rule.update(dets, t0 + i * dt) for i, dets in enumerate(seq)]


def test_persistent_smoke_alerts_within_three_frames():
    rng = random.Random(1)
    rule = SmokeAlertRule(RuleParams(n_frames=5, alert_conf=0.15))
    seq = [[] for _ in range(6)] + [[Detection(jitter(SMOKE, rng), 0.35)] for _ in range(10)]
    outs = run(rule, seq)
    first = next(i for i, o in enumerate(outs) if o.alert_on)
    assert 6 <= first <= 6 + 2, first  # smoke visible from frame 6: alert at the 3rd smoky frame at the latest
    assert outs[first].new_alert and outs[first].new_event and outs[first].event_id == 1
    assert outs[first].box is not None
    assert all(o.alert_on for o in outs[first:])


def test_smoke_free_noise_never_alerts():
    rng = random.Random(2)
    rule = SmokeAlertRule(RuleParams())
    seq = []
    for _ in range(200):
        dets = []
        for _ in range(rng.randint(0, 3)):  # low-confidence boxes anywhere (texture, haze)
            x, y = rng.uniform(0, 0.9), rng.uniform(0, 0.9)
            dets.append(Detection((x, y, x + 0.05, y + 0.05), rng.uniform(0.05, 0.12)))
        seq.append(dets)
    assert not any(o.alert_on for o in run(rule, seq))


def test_flickering_boxes_do_not_alert():
    rng = random.Random(3)
    rule = SmokeAlertRule(RuleParams(n_frames=5))
    seq = []
    for i in range(60):
        dets = []
        if i % 3 == 0:  # a strong box in the same place every third frame: at most 2 of 5
            dets.append(Detection(jitter(SMOKE, rng), 0.9))
        x, y = rng.uniform(0, 0.9), rng.uniform(0, 0.9)  # and a strong box somewhere else every frame
        dets.append(Detection((x, y, x + 0.04, y + 0.04), 0.8))
        seq.append(dets)
    assert not any(o.alert_on for o in run(rule, seq))


def test_wide_boxes_are_dropped():
    rule = SmokeAlertRule(RuleParams(max_box_width=0.4))
    outs = run(rule, [[Detection((0.1, 0.1, 0.65, 0.4), 0.9)] for _ in range(10)])
    assert not any(o.alert_on for o in outs)
    assert all(o.dropped_wide == 1 for o in outs)


def test_occlusion_masks_are_applied():
    mask = [(0.35, 0.2), (0.55, 0.2), (0.55, 0.5), (0.35, 0.5)]
    masked = SmokeAlertRule(RuleParams(), masks=[mask])
    outs = run(masked, [[Detection(SMOKE, 0.9)] for _ in range(10)])
    assert not any(o.alert_on for o in outs) and all(o.dropped_masked == 1 for o in outs)
    other = SmokeAlertRule(RuleParams(), masks=[[(0, 0.9), (0.2, 0.9), (0.2, 1), (0, 1)]])
    assert any(o.alert_on for o in run(other, [[Detection(SMOKE, 0.9)] for _ in range(10)]))


def test_hysteresis_keeps_the_alert_at_point_eight():
    rule = SmokeAlertRule(RuleParams(n_frames=4, alert_conf=0.2, hysteresis=0.8))
    on = run(rule, [[Detection(SMOKE, 0.4)] for _ in range(4)])
    assert on[-1].alert_on
    # 0.18 per frame: pooled 0.18 < 0.2 would not switch it on, but stays above 0.8 × 0.2 = 0.16
    kept = run(rule, [[Detection(SMOKE, 0.18)] for _ in range(6)], t0=200)
    assert all(o.alert_on for o in kept)
    fresh = SmokeAlertRule(RuleParams(n_frames=4, alert_conf=0.2, hysteresis=0.8))
    assert not any(o.alert_on for o in run(fresh, [[Detection(SMOKE, 0.18)] for _ in range(6)]))
    off = run(rule, [[] for _ in range(4)], t0=500)
    assert not off[-1].alert_on


def test_alerts_within_thirty_minutes_are_one_event():
    rule = SmokeAlertRule(RuleParams(n_frames=5, group_window_s=1800))
    smoke = [[Detection(SMOKE, 0.5)] for _ in range(5)]
    clear = [[] for _ in range(5)]
    a = run(rule, smoke, t0=0)
    run(rule, clear, t0=200)
    b = run(rule, smoke, t0=600)          # 10 minutes later: same event
    run(rule, clear, t0=800)
    c = run(rule, smoke, t0=800 + 2400)   # 40 minutes after the last alert frame: a new event
    firsts = [next(o for o in outs if o.new_alert) for outs in (a, b, c)]
    assert [f.new_event for f in firsts] == [True, False, True]
    assert [f.event_id for f in firsts] == [1, 1, 2]


def test_night_frames_paused_for_visible_not_for_infrared():
    dark = np.full((120, 160, 3), 10, np.uint8)
    vis = SmokeAlertRule(RuleParams(night_mode="pause"))
    outs = [vis.update([Detection(SMOKE, 0.9)], i * 30.0, dark) for i in range(6)]
    assert all(o.night for o in outs) and not any(o.alert_on for o in outs)
    ir = SmokeAlertRule(RuleParams(night_mode="pause", min_change=0), infrared=True)  # a still test frame
    outs = [ir.update([Detection(SMOKE, 0.9)], i * 30.0, dark) for i in range(6)]
    assert any(o.alert_on for o in outs) and not any(o.night for o in outs)
    detect = SmokeAlertRule(RuleParams(night_mode="detect", min_change=0))
    assert any(detect.update([Detection(SMOKE, 0.9)], i * 30.0, dark).alert_on for i in range(6))


def test_a_still_object_cannot_start_an_alert_but_drifting_smoke_can():
    import cv2
    rng = np.random.default_rng(0)
    base = rng.integers(60, 120, (240, 320, 3), dtype=np.uint8)
    base = cv2.GaussianBlur(base, (7, 7), 0)

    def frame(i, plume):
        f = base.astype(np.float32) + rng.normal(0, 2, base.shape)
        if plume:  # a bright plume growing and drifting inside the box
            cv2.circle(f, (140 + 2 * i, 100 - 3 * i), 6 + 2 * i, (230, 230, 230), -1)
        return np.clip(f, 0, 255).astype(np.uint8)

    still = SmokeAlertRule(RuleParams(min_change=4.0))
    outs = [still.update([Detection(SMOKE, 0.6)], i * 30.0, frame(i, False)) for i in range(8)]
    assert not any(o.alert_on for o in outs) and any(o.static for o in outs)
    moving = SmokeAlertRule(RuleParams(min_change=4.0))
    assert any(moving.update([Detection(SMOKE, 0.6)], i * 30.0, frame(i, True)).alert_on for i in range(8))
    off = SmokeAlertRule(RuleParams(min_change=0.0))
    assert any(off.update([Detection(SMOKE, 0.6)], i * 30.0, frame(i, False)).alert_on for i in range(8))
