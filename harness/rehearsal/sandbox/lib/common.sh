# Sourced by the sandbox's boot script and stand-ins: where they record what they were asked.
# shellcheck shell=bash
readonly REHEARSAL_LOG_DIR=/var/log/rehearsal
readonly REHEARSAL_CALLS="${REHEARSAL_LOG_DIR}/calls.log"
# Used by the scripts that source this one.
# shellcheck disable=SC2034
readonly REHEARSAL_STATE=/var/lib/rehearsal

# record WORDS...: one line per call, "TIME WORDS...", in the order they happened.
record() {
  mkdir -p "${REHEARSAL_LOG_DIR}"
  printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" "$*" >> "${REHEARSAL_CALLS}"
}
