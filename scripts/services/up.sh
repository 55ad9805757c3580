#!/usr/bin/env bash
# Starts the real servers the integration tests need (Swift + s3api, PostgreSQL, a
# one-node Slurm cluster) and
# writes .tmp/services.env for `source`:
#
#   bash scripts/services/up.sh && source .tmp/services.env
#
# Tests that need a server read the *_TEST_* variables it exports and are skipped
# (with a note naming this script) when they are unset. `scripts/services/down.sh` stops them.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/scripts/services"
mkdir -p "$ROOT/.tmp"

bash "$HERE/swift.sh" start
bash "$HERE/postgres.sh" start
bash "$HERE/slurm.sh" start
{
  echo "# written by scripts/services/up.sh on $(date -u +%FT%TZ)"
  bash "$HERE/swift.sh" env
  bash "$HERE/postgres.sh" env
  bash "$HERE/slurm.sh" env
} >"$ROOT/.tmp/services.env"
echo "up.sh: services ready; source $ROOT/.tmp/services.env" >&2
