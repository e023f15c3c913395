#!/usr/bin/env bash
# The template's checks, all offline: cfn-lint with the serverless rules, checkov, and the tests in
# infra/tests (functions <-> workspace, event routing, SAM transform). Exits non-zero on any
# finding or failing test; a finding is accepted only by a justified suppression next to its
# resource in infra/template.yaml.
#
#   bash infra/checks.sh
#
# First run: installs the pinned tools into target/infra-venv (cfn-lint, pytest, ...; shared with
# infra/build.sh) and target/checkov-venv (checkov pins packaging<24, which pytest 9 refuses, so it
# lives alone).
set -euo pipefail
cd "$(dirname "$0")/.."

TEMPLATE=infra/template.yaml
VENV=target/infra-venv
CHECKOV_VENV=target/checkov-venv

# The event patterns are evaluated by the same moto the local AWS runs (tests/localaws).
moto_pin=$(sed -n 's/^moto\(\[[a-z,]*\]\)\{0,1\}==\([0-9][0-9.]*\).*/moto==\2/p' tests/localaws/requirements.txt)
if [ -z "$moto_pin" ]; then
  echo "checks.sh: no moto==<version> line in tests/localaws/requirements.txt" >&2
  exit 1
fi
PINS=(
  cfn-lint==1.58.0
  cfn-lint-serverless==0.3.6
  aws-sam-translator==1.115.0
  pytest==9.2.0
  pyyaml==6.0.4
  "$moto_pin"
)
CHECKOV_PINS=(checkov==3.3.30)

install() {
  local venv=$1
  shift
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
}
install "$VENV" "${PINS[@]}"
install "$CHECKOV_VENV" "${CHECKOV_PINS[@]}"

status=0

echo "== cfn-lint $TEMPLATE (errors, warnings, informational; serverless rules)"
if "$VENV/bin/cfn-lint" --append-rules cfn_lint_serverless.rules --include-checks I -- "$TEMPLATE"; then
  echo "no findings"
else
  status=1
fi

echo "== checkov $TEMPLATE"
"$CHECKOV_VENV/bin/checkov" --file "$TEMPLATE" --framework cloudformation --compact --quiet \
  --skip-download || status=1

echo "== pytest infra/tests"
"$VENV/bin/python" -m pytest -p no:cacheprovider -q infra/tests || status=1

exit "$status"
