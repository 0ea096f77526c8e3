#!/usr/bin/env bash
# The Airflow check: the DAG `pinpipe airflow-dag` writes, loaded and run by a real Airflow.
#
#   scripts/airflow_check.sh [--install]     (--install: install Airflow if needed, nothing more)
#
# Installs Apache Airflow in a venv (~/.cache/pinpipe-airflow) the first time, lays out a lake from
# fixtures/golden/peer/raw, writes the DAG for it, then with a throwaway AIRFLOW_HOME:
# `airflow db migrate`, `airflow dags reserialize` + `list-import-errors` (the file loads without
# import errors), `airflow dags test` (the run succeeds), and checks the nine results/*.csv equal
# fixtures/golden/peer/expected; then that pinpipe reads cron expressions as Airflow's croniter
# does. Needs the debug build of pinpipe (built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pinpipe-target}"
airflow_version=3.3.2
croniter_version=7.0.0
venv="${PINPIPE_AIRFLOW_VENV:-$HOME/.cache/pinpipe-airflow}"
pinpipe="$CARGO_TARGET_DIR/debug/pinpipe"

started=$SECONDS
if [ "$("$venv/bin/airflow" version 2>/dev/null | tail -n 1)" != "$airflow_version" ]; then
  echo "installing Apache Airflow $airflow_version in $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "apache-airflow==$airflow_version"
fi
# croniter pinned to what Airflow $airflow_version installs today: how it reads day fields has changed
# between versions (see crates/pinpipe-scheduler/src/cron.rs). Asked of pip only when another
# version is there: scripts/test runs this section twice (`--install`, then the check).
if [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("croniter"))' 2>/dev/null)" \
  != "$croniter_version" ]; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check "croniter==$croniter_version"
fi
installed=$SECONDS
# --install: only the installation (scripts/test runs it while the tests build).
if [ "${1:-}" = --install ]; then exit 0; fi
[ -x "$pinpipe" ] || cargo build -p pinpipe

work="$(mktemp -d)"
trap '[ -n "${PINPIPE_KEEP:-}" ] || rm -rf "$work"' EXIT
mkdir -p "$work/data/lake" "$work/dags" "$work/airflow"
cp -r fixtures/golden/peer/raw "$work/data/lake/raw"
export AIRFLOW_HOME="$work/airflow"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_FOLDER="$work/dags"
dag_id=pinpipe_ci
"$pinpipe" --data-dir "$work/data" airflow-dag --dag-id "$dag_id" --retries 0 > "$work/dags/$dag_id.py"

# Runs airflow with its output in $work/<log>; shows the log when it fails.
run() {
  local log="$work/$1"
  shift
  if ! "$venv/bin/airflow" "$@" > "$log" 2>&1; then
    echo "airflow $* failed:"
    tail -n 60 "$log"
    return 1
  fi
}

run migrate.log db migrate
run reserialize.log dags reserialize
run import-errors.log dags list-import-errors --output json
grep -qx '\[\]' "$work/import-errors.log" || { cat "$work/import-errors.log"; exit 1; }
run list.log dags list --output json
grep -q "\"dag_id\": \"$dag_id\"" "$work/list.log" || { cat "$work/list.log"; exit 1; }
run test.log dags test "$dag_id" 2024-06-01
grep -q "Command exited with return code 0" "$work/test.log" &&
  grep -q "DagRun Finished: dag_id=$dag_id, .*state=success" "$work/test.log" || {
  tail -n 60 "$work/test.log"
  exit 1
}
for f in fixtures/golden/peer/expected/*.csv; do
  cmp "$f" "$work/data/lake/results/$(basename "$f")"
done

# pinpipe reads cron expressions as Airflow does: the intervals of `pinpipe runs plan` start when
# croniter (Airflow's cron library) says the schedule fires.
for expression in "@daily" "@hourly" "@weekly" "@monthly" "@yearly" "*/15 * * * *" "5/20 3 * * *" \
  "0 0 1,15 * MON" "0 0 */2 * 1" "30 6 * JAN-MAR SUN" "0 12 29 2 *" "0 0 * * 7" "15 */4 1-10 * *"; do
  ours="$("$pinpipe" --data-dir "$work/data" runs plan --cron "$expression" --from 2024-01-01 \
    --count 12 | cut -d' ' -f1)"
  theirs="$("$venv/bin/python" - "$expression" << 'PY'
import sys
from datetime import datetime, timedelta, timezone
from croniter import croniter
start = datetime(2024, 1, 1, tzinfo=timezone.utc) - timedelta(seconds=1)
it = croniter(sys.argv[1], start)
for _ in range(12):
    print(it.get_next(datetime).strftime("%Y-%m-%dT%H:%M:%SZ"))
PY
)"
  [ "$ours" = "$theirs" ] || {
    echo "cron $expression: pinpipe and croniter disagree"
    diff <(echo "$ours") <(echo "$theirs")
    exit 1
  }
done
echo "cron: pinpipe's intervals start where croniter's schedule fires, for 13 expressions"
echo "airflow $airflow_version: the DAG loaded and ran; the nine results equal" \
  "fixtures/golden/peer/expected (install $((installed - started))s, check $((SECONDS - installed))s)"
