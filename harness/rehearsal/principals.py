"""Who signs the rehearsal's calls to its emulator, and so which of them the front holds to the
CI role's policy.

The emulator takes any credentials; these are never real ones (B105: not a secret).
"""

from __future__ import annotations

#: The deployment (Terraform, the teardown check, the sweep) signs with these: they stand for
#: the CI role, and the front holds their calls to the role's policy
#: (:mod:`harness.rehearsal.authorize`).
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "rehearsal", "AWS_SECRET_ACCESS_KEY": "rehearsal"}  # nosec B105
#: The rehearsal's own look at its instances (their user data, their state): not the role.
INSTANCE_HOST_KEY_ID = "rehearsal-instance-host"
#: The front's own look into the emulator, which goes straight to moto and so is never
#: recorded as a call: not the role.
FRONT_KEY = "rehearsal-front"
