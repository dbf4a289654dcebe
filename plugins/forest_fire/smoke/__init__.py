"""Smoke detection on forest-fire watch cameras: synthetic data, dataset assembly,
training, evaluation and the ``twinboard smoke ...`` commands.

Heavy modules (ultralytics, torch) are imported lazily by the functions that need
them, after :func:`offline.make_ultralytics_offline` has been applied.
"""

from .offline import make_ultralytics_offline  # noqa: F401
