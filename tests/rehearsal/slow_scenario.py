"""Run only by the aws rehearsal: a test that holds the deployment until it is signalled."""

import os
import time
from pathlib import Path

from harness.targets import Endpoint


def test_holds_the_deployment(endpoint: Endpoint) -> None:
    Path(os.environ["REHEARSAL_STARTED"]).write_text(endpoint.base_url)
    time.sleep(120)  # the rehearsal sends SIGTERM long before this ends
