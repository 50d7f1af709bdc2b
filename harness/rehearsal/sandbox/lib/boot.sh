#!/bin/bash
# The sandbox's boot, in place of systemd and cloud-init: make the cgroups writable for the
# engine inside, then
# - on the first boot, run the user data as cloud-init would (as root, by its shebang, output
#   to /var/log/cloud-init-output.log) and record how it ended;
# - on a reboot (the harness restarts the container when EC2 is asked to reboot the instance),
#   run no user data (cloud-init runs it once per instance) and start only the units the first
#   boot enabled, as systemd does: an engine that was started but not enabled stays down;
# then stay up as an instance does. A power-off (SIGTERM, from `docker restart` or the
# shutdown stand-in) stops the engine cleanly first, as systemd stops docker.service. The
# harness copies the user data to /var/lib/cloud/instance/user-data.txt before the first boot.
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

# Power-off: the engine stops its containers (a restart policy brings them back at the next
# start of the engine, unless they were stopped by hand), then the sandbox ends.
power_off() {
  record "boot: power off"
  if pgrep -x dockerd > /dev/null 2>&1; then
    pkill -TERM -x dockerd || true
    local waited
    for ((waited = 0; waited < 150; waited++)); do
      pgrep -x dockerd > /dev/null 2>&1 || break
      sleep 0.2
    done
  fi
  exit 0
}

# A reboot: /run is a tmpfs on a real host, empty at each boot; here it is on the container's
# disk, so the engine's pid files and sockets of the last boot are cleared by hand.
after_reboot() {
  record "boot: reboot: the user data is not run again"
  rm -rf /run/docker.pid /run/docker.sock /run/docker /run/containerd "${REHEARSAL_STATE}/shutdown.pid"
  local wants=/etc/systemd/system/multi-user.target.wants unit
  for unit in "${wants}"/*.service; do
    # A link to a unit file the stand-ins never wrote (docker.service) counts all the same.
    [[ -e "${unit}" || -L "${unit}" ]] || continue
    systemctl start "$(basename "${unit}")" || record "boot: $(basename "${unit}") failed to start"
  done
  record "boot: reboot done"
}

first_boot() {
  local user_data=/var/lib/cloud/instance/user-data.txt code
  if [[ ! -s "${user_data}" ]]; then
    record "boot: no user data"
    echo 127 > "${REHEARSAL_STATE}/user-data.exit"
    return
  fi
  record "boot: user data starts"
  chmod 0700 "${user_data}"
  "${user_data}" >> /var/log/cloud-init-output.log 2>&1
  code=$?
  echo "${code}" > "${REHEARSAL_STATE}/user-data.exit"
  record "boot: user data exited ${code}"
}

mkdir -p "${REHEARSAL_STATE}" /var/log
make_cgroups_writable
trap power_off TERM
# The mark of the first boot is on the instance's disk (the container's own layer): it
# survives a reboot, and a new instance (a new sandbox) starts without it.
booted="${REHEARSAL_STATE}/booted"
if [[ -e "${booted}" ]]; then
  after_reboot
else
  touch "${booted}"
  first_boot
fi
# An instance stays up after its boot; `shutdown` (the stand-in) or a reboot ends this.
sleep infinity &
wait $!
