#!/usr/bin/env bash
# Regenerates the committed Swift code for every .proto in Protocols/.
# Needs `protoc` (Debian: protobuf-compiler) and `protoc-gen-swift` from apple/swift-protobuf, built once:
#   git clone https://github.com/apple/swift-protobuf && cd swift-protobuf && git checkout 1.39.0 \
#     && swift build -c release --product protoc-gen-swift
# then run with PROTOC_GEN_SWIFT=/path/to/swift-protobuf/.build/release/protoc-gen-swift.
set -euo pipefail
cd "$(dirname "$0")/.."
plugin="${PROTOC_GEN_SWIFT:-$(command -v protoc-gen-swift || true)}"
if [ -z "$plugin" ] || [ ! -x "$plugin" ]; then
  echo "generate-protos: protoc-gen-swift not found; set PROTOC_GEN_SWIFT (see the comment at the top of $0)" >&2
  exit 2
fi
gen() { # gen OUT_DIR PROTO_ROOT PROTO...
  local out="$1" root="$2"; shift 2
  mkdir -p "$out"
  protoc --plugin=protoc-gen-swift="$plugin" --swift_opt=Visibility=Public --swift_out="$out" -I "$root" "$@"
}
gen Sources/Tokenizer/Generated Protocols/sentencepiece Protocols/sentencepiece/sentencepiece_model.proto
if compgen -G "Protocols/internvl/v1/*.proto" > /dev/null; then
  gen Sources/Wire/Generated Protocols/internvl/v1 Protocols/internvl/v1/*.proto
fi
echo "generate-protos: done"
