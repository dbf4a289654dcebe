"""Keep a panel's plotly graph mounted across refreshes: only its figure travels, the plot updates in place.

Dash remounts whatever a callback writes into a ``children`` prop (dash ≥ 4.2 gives the new children a
fresh render), so a trend panel that returns a new ``dcc.Graph`` each refresh had its whole plot torn
down and rebuilt every few seconds on a wall that runs for weeks. Instead, the first render puts the
graph into the panel body under a stable id and marks the body's class with a signature of the
graph's other props; while the browser's body still carries that mark, later refreshes leave
``children`` alone and send only the new figure to that graph (``dash.set_props``), which
``dcc.Graph`` draws with ``Plotly.react``. Any other body (an error card, a graph with other config)
is written as children as before and clears or changes the mark, so the two never disagree.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from dash import dcc, no_update

BODY_CLASS = "tb-panel-body"
MARK_PREFIX = "tb-graph-"


def graph_id(panel: str) -> dict[str, str]:
    """The stable id of the graph kept in placed panel ``panel`` ("<uid>/<key>")."""
    return {"type": "tb-graph", "panel": panel}


def _signature(props: dict[str, Any]) -> str:
    blob = json.dumps(props, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.blake2s(blob.encode(), digest_size=6).hexdigest()


def steady_body(body: Any, panel: str, body_class: str | None) -> tuple[Any, Any, tuple[Any, dict[str, Any]] | None]:
    """(body children, body class, in-place update) for one refresh of placed panel ``panel``.

    ``body_class`` is the body's class as the browser holds it now. The in-place update, when not
    None, is ``(graph id, {"figure": ...})`` for ``dash.set_props``; children and class are then
    ``no_update``.
    """
    if not isinstance(body, dcc.Graph):
        return body, (BODY_CLASS if body_class != BODY_CLASS else no_update), None
    props = {k: v for k, v in body.to_plotly_json()["props"].items() if k != "figure"}
    props.setdefault("id", graph_id(panel))
    figure = getattr(body, "figure", None)
    mark = f"{BODY_CLASS} {MARK_PREFIX}{_signature(props)}"
    if body_class == mark:
        return no_update, no_update, (props["id"], {"figure": figure})
    return dcc.Graph(**props, figure=figure), mark, None
