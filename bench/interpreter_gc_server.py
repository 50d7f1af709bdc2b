"""The service as shipped (``app.server``) but with the interpreter's own garbage-collector
thresholds: the overload benchmark's baseline for ``app.server.YOUNG_GC_THRESHOLD``.

``python -m bench.interpreter_gc_server --host H --port P``
"""

from __future__ import annotations

import app.server


def main() -> int:
    app.server.tune_gc = lambda: None  # the interpreter's thresholds stay
    return app.server.main()


if __name__ == "__main__":
    raise SystemExit(main())
