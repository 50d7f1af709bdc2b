#!/bin/bash
# The sandbox's first boot, in place of cloud-init: make the cgroups writable for the engine
# the user data will start, run the user data as cloud-init would (as root, by its shebang,
# output to /var/log/cloud-init-output.log), record how it ended, then stay up as an instance
# does. The harness copies the user data to /var/lib/cloud/instance/user-data.txt before the
# sandbox starts.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source /usr/local/lib/rehearsal/common.sh

# The engine inside needs cgroups it can write: an unprivileged container gets them read-only.
make_cgroups_writable() {
  if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
    # cgroup v2: writable, then processes out of the root so that controllers can be delegated
    # (as moby's own dind script does).
    mount -o remount,rw /sys/fs/cgroup 2>/dev/null || true
    mkdir -p /sys/fs/cgroup/init
    xargs -rn1 < /sys/fs/cgroup/cgroup.procs > /sys/fs/cgroup/init/cgroup.procs 2>/dev/null || true
    sed -e 's/ / +/g' -e 's/^/+/' < /sys/fs/cgroup/cgroup.controllers \
      > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
    return
  fi
  # cgroup v1: mount each hierarchy afresh, writable.
  local hierarchy name options
  for hierarchy in /sys/fs/cgroup/*/; do
    hierarchy="${hierarchy%/}"
    [[ -L "${hierarchy}" ]] && continue
    name="$(basename "${hierarchy}")"
    options="${name}"
    [[ "${name}" == systemd ]] && options="none,name=systemd"
    umount "${hierarchy}" 2>/dev/null && mount -t cgroup -o "${options}" cgroup "${hierarchy}" \
      || echo "boot: could not make the ${name} cgroup writable" >&2
  done
}

mkdir -p "${REHEARSAL_STATE}" /var/log
make_cgroups_writable
user_data=/var/lib/cloud/instance/user-data.txt
if [[ ! -s "${user_data}" ]]; then
  record "boot: no user data"
  echo 127 > "${REHEARSAL_STATE}/user-data.exit"
else
  record "boot: user data starts"
  chmod 0700 "${user_data}"
  "${user_data}" >> /var/log/cloud-init-output.log 2>&1
  code=$?
  echo "${code}" > "${REHEARSAL_STATE}/user-data.exit"
  record "boot: user data exited ${code}"
fi
# An instance stays up after its first boot; `shutdown` (the stand-in) ends it.
exec sleep infinity
