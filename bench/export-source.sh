#!/bin/sh
# Export one commit of hotline to a directory for `bench/calls.py --source DIR`, so a benchmark measures a
# fixed commit while the working tree changes. Usage: bench/export-source.sh [COMMIT] DIR
set -eu
if [ $# -eq 1 ]; then commit=HEAD; dir=$1; else commit=$1; dir=$2; fi
cd "$(dirname "$0")/.."
mkdir -p "$dir"
git archive "$commit" | tar -x -C "$dir"
git rev-parse --short "$commit" > "$dir/COMMIT"
echo "$(cat "$dir/COMMIT") exported to $dir"
