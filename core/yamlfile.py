"""YAML loading that remembers where each value came from, so errors name file, line and field."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from core.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class YamlDoc:
    """A parsed YAML document plus the node tree for line look-ups."""

    def __init__(self, path: Path, data: Any, root: yaml.Node | None) -> None:
        self.path, self.data, self.root = path, data, root

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        """1-based line of the value at ``loc`` (or of its nearest existing parent)."""
        node, line = self.root, (self.root.start_mark.line + 1 if self.root else None)
        for key in loc:
            if isinstance(node, yaml.MappingNode):
                nxt = next((v for k, v in node.value if getattr(k, "value", None) == str(key)), None)
                if nxt is None:
                    break
                key_node = next(k for k, v in node.value if v is nxt)
                line, node = key_node.start_mark.line + 1, nxt
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
                node = node.value[key]
                line = node.start_mark.line + 1
            else:
                break
        return line

    def validate(self, model: type[M], data: Any = None, prefix: Sequence[str | int] = ()) -> M:
        """Validate (part of) the document; ConfigError names file, line and the first bad field."""
        try:
            return model.model_validate(self.data if data is None else data)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = [*prefix, *err["loc"]]
            raise ConfigError(_message(err), file=str(self.path), line=self.line_of(loc),
                              field=".".join(str(p) for p in loc) or None) from exc


def _message(err: dict[str, Any]) -> str:
    msg = str(err["msg"])
    if err.get("type") == "extra_forbidden":
        return "unknown field (check the spelling)"
    if err.get("input") is not None and err.get("type") not in ("missing",):
        shown = repr(err["input"])
        if len(shown) < 60:
            msg += f" (got {shown})"
    return msg


def load_yaml(path: Path) -> YamlDoc:
    """Parse ``path``; ConfigError with the line for syntax errors or an unreadable file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=str(path)) from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise ConfigError(f"YAML syntax error: {exc.problem}", file=str(path), line=line) from exc
    return YamlDoc(path, data, root)
