#!/usr/bin/env bash
# The project's test command: builds, checks the CLI contract against the shared goldens when they are present
# (../shared beside the checkout, as in CI), then runs the whole Swift test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
checker=../shared/tools/check_cli.py
if [ -f "$checker" ]; then
  python3 "$checker" tokenize --bin .build/debug/internvl --set Tests/Fixtures/internvl2-tiny
  python3 "$checker" run --bin .build/debug/internvl --set Tests/Fixtures/internvl2-tiny
else
  echo "test.sh: $checker not found; the same goldens are checked by Tests/CLITests"
fi
swift test
