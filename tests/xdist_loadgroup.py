"""``--dist loadgroup`` on pytest 9.2: the tests marked ``xdist_group`` share one worker again.

pytest-xdist 3.8.0 (the newest release) groups them by appending ``@group`` to each marked
test's ``item._nodeid`` in the worker; pytest 9.2 reads a node's id from ``item._id`` (a
structured ``NodeId``) and ignores the old field, so every marked test was scheduled alone and
each worker that drew one built the module's fixtures again (pytest-xdist#1386; the fix,
pytest-xdist#1388, is not released). This plugin writes the same suffix where pytest 9.2 reads
it, after xdist's own hook. Nothing happens without loadgroup, outside a worker, or once the
id already carries the suffix (an xdist that does it itself).
"""

from __future__ import annotations

import pytest


def _group(item: pytest.Item) -> str | None:
    """xdist's group name for ``item``: its ``xdist_group`` marks' names, sorted and joined."""
    names = {
        str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
        for mark in item.iter_markers("xdist_group")
    }
    return "_".join(sorted(names)) if names else None


def _grouped(nodeid: str) -> bool:
    """Whether ``nodeid`` already ends with a group, as xdist's scheduler reads one."""
    return nodeid.rfind("@") > nodeid.rfind("]")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not getattr(config.option, "loadgroup", False):  # set in xdist's workers only
        return
    try:
        from _pytest.nodeid import NodeId
    except ImportError:  # a pytest before structured ids: xdist's own suffix holds
        return
    for item in items:
        group = _group(item)
        if group is None or _grouped(item.nodeid):
            continue
        # parse() keeps the string it is given as the id, exactly as xdist's scheduler
        # and every report expect it: "path::test[params]@group".
        item._id = NodeId.parse(f"{item.nodeid}@{group}")
