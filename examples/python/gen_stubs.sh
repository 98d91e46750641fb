#!/bin/sh
# Generates the Python stubs of the control API into stubs/ from proto/privagg/v1/control.proto:
# the messages with protoc's own Python generator (Debian's protobuf-compiler, matching its
# python3-protobuf runtime), the service stub with grpc_tools' plugin (python3-grpc-tools; its own
# bundled protoc is too old for today's runtimes, so it is used only for the --grpc_python_out part).
# The output is committed, so running the example needs neither tool.
#   ./gen_stubs.sh          regenerate stubs/
#   ./gen_stubs.sh --check  exit 1 when stubs/ differs from what the proto gives
set -eu
here=$(cd "$(dirname "$0")" && pwd)
proto=$(cd "$here/../../proto" && pwd)
python=${PYTHON:-python3}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
protoc -I"$proto" --python_out="$out" "$proto/privagg/v1/control.proto"
"$python" -m grpc_tools.protoc -I"$proto" --grpc_python_out="$out" "$proto/privagg/v1/control.proto"
if [ "${1:-}" = "--check" ]; then
  if diff -r "$out/privagg" "$here/stubs/privagg" >/dev/null; then echo "gen_stubs: stubs/ is up to date"; exit 0; fi
  echo "gen_stubs: stubs/ is stale: run examples/python/gen_stubs.sh" >&2
  exit 1
fi
rm -rf "$here/stubs/privagg"
mkdir -p "$here/stubs"
cp -r "$out/privagg" "$here/stubs/"
echo "gen_stubs: wrote stubs/privagg/v1/control_pb2.py and control_pb2_grpc.py"
