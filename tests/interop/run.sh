#!/usr/bin/env bash
# The interop tier: real third-party Zeebe clients against a freshly started `apsis engine`.
#
#   tests/interop/run.sh [CLIENT...]      CLIENT: zbctl camunda8-sdk pyzeebe zeebe-rs (default: all)
#
# For each client: a new engine (temporary data dir, free loopback ports, wait for /ready), the client's scenario in
# its own process (bounded time), then SIGTERM to the engine. The clients must have been installed first
# (scripts/install-interop.sh). The last line is `N passed, M failed`; the exit status is non-zero if any failed.
#
# Environment:
#   APSIS_BIN         the apsis binary to test (default: `cargo build -p apsis-server --bin apsis` in the profile below)
#   INTEROP_PROFILE   debug (default: what `make unit` has already built) or release
#   INTEROP_TIMEOUT   seconds one client scenario may take (default 120)
#   INTEROP_KEEP      1: keep every engine's data dir and log (default: kept only for failed clients)
#   INTEROP_RUST_TARGET  target dir of the zeebe-rs client (default ~/.cache/apsis-interop/zeebe-rs-target)
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
ALL_CLIENTS=(zbctl camunda8-sdk pyzeebe zeebe-rs)
CLIENT_TIMEOUT="${INTEROP_TIMEOUT:-120}"
PROFILE="${INTEROP_PROFILE:-debug}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/apsis-interop.XXXXXX")"
START=$SECONDS

log() { printf 'interop: %s\n' "$*"; }

# --- what to run -------------------------------------------------------------------------------------------------
clients=("$@")
[ ${#clients[@]} -eq 0 ] && clients=("${ALL_CLIENTS[@]}")
for c in "${clients[@]}"; do
  case " ${ALL_CLIENTS[*]} " in *" $c "*) ;; *) log "unknown client '$c' (known: ${ALL_CLIENTS[*]})"; exit 2 ;; esac
done

# --- the engine binary -------------------------------------------------------------------------------------------
if [ -z "${APSIS_BIN:-}" ]; then
  profile_flag=(); [ "$PROFILE" = release ] && profile_flag=(--release)
  log "building apsis ($PROFILE)"
  if ! (cd "$ROOT" && cargo build --quiet --locked "${profile_flag[@]}" -p apsis-server --bin apsis); then
    log "could not build the apsis binary"; echo "0 passed, ${#clients[@]} failed"; exit 1
  fi
  target_dir="$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps --locked |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
  APSIS_BIN="$target_dir/$PROFILE/apsis"
fi
[ -x "$APSIS_BIN" ] || { log "no apsis binary at $APSIS_BIN"; echo "0 passed, ${#clients[@]} failed"; exit 1; }
log "engine: $APSIS_BIN"

# --- one engine per client ---------------------------------------------------------------------------------------
ENGINE_PID=""

free_ports() { # two distinct free loopback ports, bound at the same time so they differ
  python3 -c 'import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))'
}

start_engine() { # $1: folder for the data dir and log; sets GATEWAY_PORT, ENGINE_PID; fails if not ready in 20 s
  local dir="$1"
  for _attempt in 1 2 3; do
    read -r GATEWAY_PORT MONITORING_PORT <<<"$(free_ports)"
    "$APSIS_BIN" engine --data-dir "$dir/data" --gateway-address "127.0.0.1:$GATEWAY_PORT" \
      --monitoring-address "127.0.0.1:$MONITORING_PORT" >"$dir/engine.log" 2>&1 &
    ENGINE_PID=$!
    for _ in $(seq 1 200); do
      if curl -sf -o /dev/null "http://127.0.0.1:$MONITORING_PORT/ready"; then return 0; fi
      kill -0 "$ENGINE_PID" 2>/dev/null || break
      sleep 0.1
    done
    stop_engine
    # A port taken between free_ports and the bind makes the engine exit at once: try other ports.
    grep -q "already in use" "$dir/engine.log" || return 1
  done
  return 1
}

stop_engine() { # SIGTERM, then SIGKILL after 10 s; reports an unclean exit in the engine log
  [ -n "$ENGINE_PID" ] || return 0
  kill -TERM "$ENGINE_PID" 2>/dev/null
  for _ in $(seq 1 100); do kill -0 "$ENGINE_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$ENGINE_PID" 2>/dev/null; then
    log "engine $ENGINE_PID did not stop within 10 s of SIGTERM: killed"
    kill -KILL "$ENGINE_PID" 2>/dev/null
  fi
  wait "$ENGINE_PID" 2>/dev/null
  ENGINE_PID=""
}
trap 'stop_engine; [ "${INTEROP_KEEP:-0}" = 1 ] || [ -n "${FAILED_DIRS:-}" ] || rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

# --- the clients' commands ---------------------------------------------------------------------------------------
# Each scenario reads ZEEBE_ADDRESS (host:port), INTEROP_MONITORING (the engine's monitoring URL, whose /incidents
# lists open incidents: the gateway protocol returns no incident keys), INTEROP_BPMN and INTEROP_ZBCTL, prints its
# steps and a final `PASS <client>` or `FAIL <client>: <what>`, and exits 0 only when every assertion held.
ZBCTL="$HERE/node/node_modules/zbctl/bin/zbctl-cli.linux"
RUST_TARGET="${INTEROP_RUST_TARGET:-${XDG_CACHE_HOME:-$HOME/.cache}/apsis-interop/zeebe-rs-target}"
client_command() {
  case "$1" in
    zbctl) echo "bash $HERE/zbctl/scenario.sh" ;;
    camunda8-sdk) echo "node $HERE/node/camunda8-sdk.mjs" ;;
    pyzeebe) echo "$HERE/python/.venv/bin/python $HERE/python/scenario.py" ;;
    zeebe-rs) echo "$ZEEBE_RS_BIN" ;;
  esac
}

prepare_client() { # what a client needs before its engine starts; a failure here fails the client
  case "$1" in
    zbctl | camunda8-sdk) [ -x "$ZBCTL" ] || { echo "npm packages not installed: run scripts/install-interop.sh"; return 1; } ;;
    pyzeebe)
      [ -x "$HERE/python/.venv/bin/python" ] || { echo "venv missing: run scripts/install-interop.sh"; return 1; }
      [ -x "$ZBCTL" ] || { echo "zbctl (for incidents) missing: run scripts/install-interop.sh"; return 1; } ;;
    zeebe-rs)
      # Its own Cargo project (not a workspace member) with its own lock file. Its target dir lives outside the
      # checkout by default, so a fresh clone (CI) reuses the crates built by the previous run on this machine.
      (cd "$HERE/rust" && CARGO_TARGET_DIR="$RUST_TARGET" cargo build --quiet --locked) ||
        { echo "the zeebe-rs client did not build"; return 1; }
      ZEEBE_RS_BIN="$RUST_TARGET/debug/apsis-interop-zeebe-rs" ;;
  esac
}

# --- run ---------------------------------------------------------------------------------------------------------
passed=0; failed=0; results=(); FAILED_DIRS=""
for client in "${clients[@]}"; do
  dir="$WORK/$client"; mkdir -p "$dir"
  t0=$SECONDS
  log "--- $client"
  if ! prepare_client "$client" >"$dir/prepare.log" 2>&1; then
    cat "$dir/prepare.log"
    results+=("FAIL $client: could not prepare the client (see above)"); failed=$((failed + 1)); FAILED_DIRS+=" $dir"
    continue
  fi
  if ! start_engine "$dir"; then
    tail -n 20 "$dir/engine.log"
    results+=("FAIL $client: apsis engine did not become ready"); failed=$((failed + 1)); FAILED_DIRS+=" $dir"
    continue
  fi
  log "engine ready on 127.0.0.1:$GATEWAY_PORT (pid $ENGINE_PID)"
  # shellcheck disable=SC2046
  ZEEBE_ADDRESS="127.0.0.1:$GATEWAY_PORT" INTEROP_MONITORING="http://127.0.0.1:$MONITORING_PORT" \
    INTEROP_BPMN="$HERE/bpmn/interop-order.bpmn" INTEROP_ZBCTL="$ZBCTL" \
    timeout --kill-after=5 "$CLIENT_TIMEOUT" $(client_command "$client") >"$dir/client.log" 2>&1
  status=$?
  stop_engine
  sed 's/^/    /' "$dir/client.log"
  verdict="$(grep -E "^(PASS|FAIL) $client" "$dir/client.log" | tail -n 1)"
  if [ "$status" -eq 0 ] && [ "${verdict%% *}" = PASS ]; then
    results+=("PASS $client ($((SECONDS - t0)) s)"); passed=$((passed + 1))
  else
    [ "$status" -eq 124 ] && verdict="FAIL $client: timed out after ${CLIENT_TIMEOUT} s"
    [ -z "$verdict" ] && verdict="FAIL $client: exited with status $status without a verdict"
    results+=("$verdict ($((SECONDS - t0)) s; engine log: $dir/engine.log)"); failed=$((failed + 1))
    FAILED_DIRS+=" $dir"
  fi
done

log "summary ($((SECONDS - START)) s):"
for r in "${results[@]}"; do echo "  $r"; done
[ -n "$FAILED_DIRS" ] && log "logs of failed clients kept under $WORK"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
