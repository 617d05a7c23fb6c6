"""Machine-readable output: plain data (status dicts and the like) as JSON or YAML.

JSON is indented for people and ends with a newline; `compact` gives one line
per document (for `--watch`, one line per refresh). YAML goes through the one
YAML module, so it reads exactly like status.yaml.
"""

from __future__ import annotations

import json
from typing import Any

from controller.files.yamlio import dump_yaml

DATA_FORMATS = ("json", "yaml")


def dumps(data: Any, fmt: str, *, compact: bool = False) -> str:
    """`data` as `fmt` ("json" or "yaml"), ending in a newline."""
    if fmt == "json":
        if compact:
            return json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if fmt == "yaml":
        return dump_yaml(data)
    raise ValueError(f"unknown data format {fmt!r}")
