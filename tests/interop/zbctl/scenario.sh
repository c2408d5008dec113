#!/usr/bin/env bash
# zbctl (npm package `zbctl`, the Go CLI shipped inside it) drives interop-order.bpmn step by step:
# status, deploy, create instance --withResult (in the background), activate + complete `reserve`, publish the
# payment message, activate `charge` and throw CARD_DECLINED, complete `handle-decline`, fail `ship` with retries 0
# (incident), update its retries and resolve the incident, complete `ship`; then the awaited result must hold the
# expected variables.
# The npm package's `zbctl` wrapper asks the npm registry for updates after every command, so the binary it wraps is
# called directly (INTEROP_ZBCTL).
set -uo pipefail

CLIENT=zbctl
ORDER="order-zbctl"
fail() { echo "FAIL $CLIENT: $*"; exit 1; }
step() { echo "step: $*"; }

command -v jq >/dev/null || fail "jq is needed to read zbctl's JSON output"
Z=("$INTEROP_ZBCTL" --insecure --address "$ZEEBE_ADDRESS")
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"; [ -n "${RESULT_PID:-}" ] && kill "$RESULT_PID" 2>/dev/null' EXIT

zb() { # runs zbctl, keeping its output in $OUT/last; fails the scenario with what zbctl said
  if ! "${Z[@]}" "$@" >"$OUT/last" 2>&1; then
    fail "zbctl $* -> $(tr '\n' ' ' <"$OUT/last")"
  fi
}

# Activates one job of a type, waiting up to 10 s for it; prints the job as JSON.
activate() {
  local type="$1"
  for _ in $(seq 1 20); do
    zb activate jobs "$type" --maxJobsToActivate 1 --timeout 30s --worker zbctl-interop
    if [ "$(jq '.jobs | length' "$OUT/last" 2>/dev/null)" = 1 ]; then jq -c '.jobs[0]' "$OUT/last"; return 0; fi
    sleep 0.5
  done
  fail "no job of type '$type' became activatable within 10 s (last answer: $(tr '\n' ' ' <"$OUT/last"))"
}

step "status"
zb status
grep -q "Partition 1" "$OUT/last" || fail "zbctl status shows no partition: $(tr '\n' ' ' <"$OUT/last")"
grep -q "Gateway version" "$OUT/last" || fail "zbctl status shows no gateway version"

step "deploy"
zb deploy resource "$INTEROP_BPMN"
jq -e '.deployments[0].process.bpmnProcessId == "interop-order"' "$OUT/last" >/dev/null ||
  fail "deploy answered $(tr '\n' ' ' <"$OUT/last")"

step "create instance --withResult"
"${Z[@]}" --requestTimeout 90s create instance interop-order --withResult \
  --variables "{\"orderId\": \"$ORDER\", \"amount\": 42}" >"$OUT/result" 2>&1 &
RESULT_PID=$!

step "activate and complete 'reserve'"
job="$(activate reserve)" || exit 1
[ "$(jq -r '.variables | fromjson | .orderId' <<<"$job")" = "$ORDER" ] || fail "reserve job lacks orderId: $job"
[ "$(jq -r '.customHeaders | fromjson | .warehouse' <<<"$job")" = north ] || fail "reserve job lacks its header: $job"
zb complete job "$(jq -r .key <<<"$job")" --variables '{"reserved": true}'

step "publish payment-received"
zb publish message payment-received --correlationKey "$ORDER" --variables '{"paid": 42}' --ttl 60s

step "activate 'charge' (after the 1 s timer) and throw CARD_DECLINED"
job="$(activate charge)" || exit 1
[ "$(jq -r '.variables | fromjson | .paid' <<<"$job")" = 42 ] || fail "charge job lacks paid=42 from the message: $job"
[ "$(jq -r '.variables | fromjson | .coolOffDone' <<<"$job")" = true ] || fail "charge job lacks coolOffDone: $job"
zb throwError job "$(jq -r .key <<<"$job")" --errorCode CARD_DECLINED --errorMessage "insufficient funds"

step "activate and complete 'handle-decline'"
job="$(activate handle-decline)" || exit 1
zb complete job "$(jq -r .key <<<"$job")" --variables '{"declineHandled": true}'

step "activate 'ship' and fail it with retries 0 (incident)"
job="$(activate ship)" || exit 1
ship_key="$(jq -r .key <<<"$job")"
[ "$(jq -r .retries <<<"$job")" = 1 ] || fail "ship job should have 1 retry: $job"
zb fail job "$ship_key" --retries 0 --errorMessage "carrier unreachable"

step "no 'ship' job while the incident is open"
zb activate jobs ship --maxJobsToActivate 1 --timeout 30s --worker zbctl-interop --requestTimeout 1s
[ "$(jq '.jobs | length' "$OUT/last")" = 0 ] || fail "a failed job with 0 retries was activatable: $(cat "$OUT/last")"

step "find the incident (GET /incidents)"
# The gateway protocol returns no incident keys (Zeebe users read them from Operate); apsis lists open incidents
# on its monitoring endpoint.
curl -sf "$INTEROP_MONITORING/incidents" >"$OUT/incidents" || fail "GET $INTEROP_MONITORING/incidents failed"
incident="$(jq -c --argjson job "$ship_key" '[.[] | select(.jobKey == $job)] | .[0] // empty' "$OUT/incidents")"
[ -n "$incident" ] || fail "no open incident for job $ship_key in /incidents: $(cat "$OUT/incidents")"
[ "$(jq -r .errorType <<<"$incident")" = JOB_NO_RETRIES ] || fail "the incident is not JOB_NO_RETRIES: $incident"
[ "$(jq -r .errorMessage <<<"$incident")" = "carrier unreachable" ] ||
  fail "the incident lacks the failure's message: $incident"
resolved="$(jq -r .key <<<"$incident")"

step "resolve incident while the job has no retries: FAILED_PRECONDITION, as in Zeebe"
if "${Z[@]}" resolve incident "$resolved" >"$OUT/last" 2>&1; then
  fail "resolve incident $resolved succeeded while job $ship_key had 0 retries"
fi
grep -q "FailedPrecondition" "$OUT/last" || fail "resolve incident with 0 retries -> $(tr '\n' ' ' <"$OUT/last")"

step "update retries to 2 and resolve the incident"
zb update retries "$ship_key" --retries 2
zb resolve incident "$resolved"
echo "resolved incident $resolved"

step "activate 'ship' again (retries 2) and complete it"
job="$(activate ship)" || exit 1
[ "$(jq -r .key <<<"$job")" = "$ship_key" ] || fail "expected the same ship job $ship_key again, got $job"
retries="$(jq -r .retries <<<"$job")"
[ "$retries" = 2 ] || fail "ship job should have the 2 retries set by UpdateJobRetries, got $retries"
zb complete job "$ship_key" --variables "{\"shipped\": true, \"shipRetries\": $retries}"

step "await the instance's result"
wait "$RESULT_PID"; status=$?; RESULT_PID=""
[ "$status" -eq 0 ] || fail "create instance --withResult exited $status: $(tr '\n' ' ' <"$OUT/result")"
cat "$OUT/result"
vars="$(jq -r '.variables' "$OUT/result")" || fail "the result is not JSON: $(cat "$OUT/result")"
expected='{"orderId":"order-zbctl","amount":42,"reserved":true,"paid":42,"coolOffDone":true,"declineHandled":true,"shipped":true,"shipRetries":2}'
jq -e --argjson want "$expected" '. as $got | $want | to_entries | all(.value == $got[.key])' <<<"$vars" >/dev/null ||
  fail "result variables $vars do not hold $expected"
echo "PASS $CLIENT"
