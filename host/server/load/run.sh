#!/usr/bin/env bash
# Load test of `eligo serve` on loopback: durable household decisions per
# second and latency percentiles, on SQLite (and PostgreSQL when
# ELIGO_TEST_DATABASE_URL is set), with wrk (Debian package `wrk`).
#
#   cargo build --release -p eligo-cli && host/server/load/run.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/../../.."
seconds="${1:-20}"
connections="${2:-32}"
eligo=./target/release/eligo
here=host/server/load
command -v wrk >/dev/null || { echo "install wrk (apt-get install wrk)" >&2; exit 1; }

run() {
    local label="$1"; shift
    local data; data="$(mktemp -d)"
    "$eligo" serve --listen 127.0.0.1:18300 --data-dir "$data" --max-in-flight 256 "$@" \
        > "$data/out.log" 2> "$data/err.log" &
    local pid=$!
    for _ in $(seq 100); do grep -q listening "$data/out.log" 2>/dev/null && break; sleep 0.2; done
    # Warm the pool and the page cache.
    wrk -t2 -c"$connections" -d3s -s "$here/decide.lua" http://127.0.0.1:18300 > /dev/null
    echo "== $label: $seconds s, $connections connections, 2 wrk threads"
    wrk -t2 -c"$connections" -d"${seconds}s" --latency -s "$here/decide.lua" http://127.0.0.1:18300
    local stored
    stored="$(curl -s 'http://127.0.0.1:18300/metrics' | awk '/^eligo_audit_records_total/ {print $2}')"
    echo "audit records committed: $stored; batches: $(curl -s 'http://127.0.0.1:18300/metrics' | awk '/^eligo_audit_batches_total/ {print $2}')"
    kill "$pid"; wait "$pid" || true
    rm -rf "$data"
}

run sqlite
if [ -n "${ELIGO_TEST_DATABASE_URL:-}" ]; then
    db="eligo_load_$$"
    psql "$ELIGO_TEST_DATABASE_URL" -qc "CREATE DATABASE $db"
    run postgres --database-url "${ELIGO_TEST_DATABASE_URL%/*}/$db"
    psql "$ELIGO_TEST_DATABASE_URL" -qc "DROP DATABASE $db"
fi
