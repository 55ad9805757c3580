#!/usr/bin/env bash
# Stops what scripts/services/up.sh started (their data stays under .tmp/services/).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$HERE/slurm.sh" stop || true
bash "$HERE/swift.sh" stop || true
bash "$HERE/postgres.sh" stop || true
