#!/usr/bin/env bash
# Static checks, each at zero findings (a skip is justified in a comment where it is made):
#   ruff (lint and format), mypy (strict on every Python folder), bandit (app/ harness/ scripts/),
#   hadolint (Dockerfile), shellcheck (every *.sh, terraform/user_data.sh included),
#   terraform validate (terraform/ and terraform/ci-role/, with the pinned AWS provider),
#   checkov (terraform/, from its own virtual environment: it pins dependencies of its own),
#   parliament (the CI role's policy, as terraform/ci-role/ renders and attaches it),
#   the feature files (harness/gherkin_lint.py, then gherkin-lint's style rules) and the
#   GitHub workflows (actionlint, zizmor).
# Runs every check, then exits 1 if any failed, naming them.
# Usage: scripts/lint.sh      (VENV picks another virtual environment than .venv)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${VENV:-$root/.venv}"
checkov_venv="${CHECKOV_VENV:-$root/.venv-checkov}"
cd "$root"
VENV="$venv" "$root/scripts/bootstrap.sh" requirements-dev.txt

failed=()

# check NAME COMMAND...: run one check, remember it if it fails, go on with the next.
check() {
  local name="$1"
  shift
  echo "== $name" >&2
  if ! "$@"; then
    echo "!! $name failed" >&2
    failed+=("$name")
  fi
}

run_bandit() {
  # bandit reads the words after "# nosec BXXX -" as test names and warns about each: noise.
  "$venv/bin/bandit" --quiet --configfile pyproject.toml --recursive app harness scripts \
    2> >(grep -v "Test in comment" >&2)
}

run_shellcheck() {
  # Every *.sh, and every other file whose first line runs bash or sh (the sandbox's
  # stand-ins for dnf, systemctl and shutdown have no extension).
  local scripts=() file
  while IFS= read -r file; do
    if [[ "${file}" == *.sh ]] || head -n 1 "${file}" 2>/dev/null | grep -Eq '^#!(/usr)?/bin/(env )?(ba)?sh'; then
      scripts+=("${file}")
    fi
  done < <(git ls-files --cached --others --exclude-standard)
  if [ "${#scripts[@]}" -eq 0 ]; then
    echo "no shell scripts found" >&2
    return 1
  fi
  echo "${#scripts[@]} scripts: ${scripts[*]}" >&2
  "$venv/bin/shellcheck" "${scripts[@]}"
}

run_checkov() {
  if [ ! -f requirements-checkov.txt ]; then
    echo "terraform/ exists but requirements-checkov.txt does not: checkov cannot be installed" >&2
    return 1
  fi
  VENV="$checkov_venv" "$root/scripts/bootstrap.sh" requirements-checkov.txt
  # --skip-download: no network lookups of guidelines (none can be reached from here).
  "$checkov_venv/bin/checkov" --directory terraform --framework terraform --skip-download \
    --compact --quiet
}

run_parliament() {
  # The CI role's policy as Terraform attaches it (the template rendered with the module's
  # defaults), at zero findings. Given as text: parliament's --file refuses a non-terminal stdin.
  local policy
  policy="$("$venv/bin/python" -m harness.ci_role)" || return 1
  "$venv/bin/parliament" --string "$policy"
}

run_gherkin() {
  # Parsed by the official parser, every step defined, every definition used, names unique.
  "$venv/bin/python" -m harness.gherkin_lint || return 1
  "$root/scripts/bootstrap_node.sh"
  node_modules/.bin/gherkin-lint --config .gherkin-lintrc features tests
}

run_workflows() {
  # actionlint checks each run: script with shellcheck too. zizmor runs offline: the audits
  # that ask GitHub (impostor commits, known-vulnerable actions) cannot run here.
  "$venv/bin/actionlint" -shellcheck "$venv/bin/shellcheck" || return 1
  "$venv/bin/zizmor" --offline --persona=pedantic --no-progress .github/workflows
}

check "ruff check" "$venv/bin/ruff" check .
check "ruff format" "$venv/bin/ruff" format --check .
check "mypy" "$venv/bin/mypy"
check "bandit" run_bandit
if [ -f Dockerfile ]; then
  check "hadolint" "$venv/bin/hadolint" Dockerfile
fi
check "shellcheck" run_shellcheck
if [ -d terraform ]; then
  # With the pinned AWS provider: from a local mirror when one is found, else the registry.
  check "terraform validate" "$venv/bin/python" -m harness.provider validate
  check "checkov" run_checkov
  check "parliament" run_parliament
fi
check "gherkin" run_gherkin
check "workflows" run_workflows

if [ "${#failed[@]}" -gt 0 ]; then
  echo "static checks failed: ${failed[*]}" >&2
  exit 1
fi
echo "static checks: all clean" >&2
