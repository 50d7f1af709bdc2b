"""Read Terraform files into plain Python values: the one place that knows python-hcl2's quirks.

python-hcl2 8 keeps the quotes of string literals and block labels (``'"api"'``), wraps
expressions in ``${...}``, marks every block body with ``__is_block__`` and keeps comments
under ``__comments__``. :func:`normalise` undoes all of that once, so the rest of the harness
sees ``"api"`` for a label or a literal and ``"${var.x}"`` for an expression.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2

#: Keys python-hcl2 adds that are not part of the configuration.
_MARKERS = frozenset({"__is_block__", "__comments__", "__inline_comments__"})
_BLOCK_MARKER = "__is_block__"


def unquote(text: str) -> str:
    """``'"api"'`` → ``'api'``; anything not a whole quoted literal is returned as it is."""
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return text[1:-1]
        if isinstance(value, str):
            return value
    return text


def normalise(value: Any) -> Any:
    """python-hcl2's output with quotes, block markers and comments taken out, recursively."""
    if isinstance(value, dict):
        return {unquote(key): normalise(item) for key, item in value.items() if key not in _MARKERS}
    if isinstance(value, list):
        return [normalise(item) for item in value]
    if isinstance(value, str):
        return unquote(value)
    return value


def is_expression(value: Any) -> bool:
    """Whether a normalised value is an expression (``${...}``) rather than a literal."""
    return isinstance(value, str) and value.startswith("${") and value.endswith("}")


@dataclass(frozen=True)
class Block:
    """One top-level block: ``resource "aws_instance" "api" {...}`` is
    ``Block("resource", ("aws_instance", "api"), {...}, Path("main.tf"))``."""

    kind: str
    labels: tuple[str, ...]
    body: dict[str, Any]
    file: Path

    @property
    def address(self) -> str:
        """``aws_instance.api``, ``data.aws_vpc.default``, ``var.region``, ``output.api_url``."""
        prefix = {"resource": "", "data": "data.", "variable": "var.", "output": "output."}
        return (prefix.get(self.kind, f"{self.kind}.") + ".".join(self.labels)).rstrip(".")


def _blocks_of(kind: str, raw: Any, file: Path) -> Iterator[Block]:
    """Walk python-hcl2's nesting of labels down to each block body."""

    def walk(node: dict[str, Any], labels: tuple[str, ...]) -> Iterator[Block]:
        if node.get(_BLOCK_MARKER) or not node:
            yield Block(kind, labels, normalise(node), file)
            return
        for key, child in node.items():
            if isinstance(child, dict):
                yield from walk(child, (*labels, unquote(key)))

    for entry in raw if isinstance(raw, list) else [raw]:
        if isinstance(entry, dict):
            yield from walk(entry, ())


@dataclass
class TerraformConfig:
    """Every top-level block of the ``*.tf`` files of one directory."""

    directory: Path
    blocks: list[Block] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[Block]:
        return [block for block in self.blocks if block.kind == kind]

    def resources(self, *types: str) -> list[Block]:
        """Managed resources, all of them or those of the given types."""
        return [
            block
            for block in self.of_kind("resource")
            if not types or (block.labels and block.labels[0] in types)
        ]

    def resource(self, type_: str, name: str) -> Block:
        for block in self.resources(type_):
            if block.labels == (type_, name):
                return block
        raise KeyError(f"no resource {type_}.{name} in {self.directory}")

    def variables(self) -> dict[str, dict[str, Any]]:
        return {block.labels[0]: block.body for block in self.of_kind("variable")}

    def outputs(self) -> dict[str, dict[str, Any]]:
        return {block.labels[0]: block.body for block in self.of_kind("output")}

    def providers(self, name: str) -> list[dict[str, Any]]:
        return [block.body for block in self.of_kind("provider") if block.labels == (name,)]

    def locals(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for block in self.of_kind("locals"):
            merged.update(block.body)
        return merged


@functools.lru_cache(maxsize=64)
def _parsed(path: Path, size: int, mtime_ns: int) -> dict[str, Any]:
    """python-hcl2's reading of a file, once per content (keyed by its size and mtime): it is
    slow (about 50 ms a file), and the Terraform rules read the same files scenario after
    scenario."""
    with path.open(encoding="utf-8") as handle:
        raw: dict[str, Any] = hcl2.load(handle)
    return raw


def load_file(path: Path) -> list[Block]:
    """The top-level blocks of one ``.tf`` file."""
    stat = path.stat()
    raw = copy.deepcopy(_parsed(path.resolve(), stat.st_size, stat.st_mtime_ns))
    blocks: list[Block] = []
    for kind, entries in raw.items():
        if kind in _MARKERS:
            continue
        blocks.extend(_blocks_of(kind, entries, path))
    return blocks


def load_directory(directory: Path, files: Iterable[Path] | None = None) -> TerraformConfig:
    """Parse every ``*.tf`` file of ``directory`` (not its subdirectories, like Terraform)."""
    paths = sorted(directory.glob("*.tf")) if files is None else sorted(files)
    if not paths:
        raise FileNotFoundError(f"no *.tf files in {directory}")
    config = TerraformConfig(directory)
    for path in paths:
        config.blocks.extend(load_file(path))
    return config
