"""Names every part of the harness agrees on (and that import nothing else)."""

from __future__ import annotations

#: The Project tag and label on everything a run creates.
PROJECT = "state-api"
#: The label naming the EC2 instance a rehearsal's sandbox container plays (see
#: harness/rehearsal/instances.py); the local target's containers never carry it.
INSTANCE_LABEL = f"{PROJECT}.instance-id"
