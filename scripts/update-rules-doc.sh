#!/usr/bin/env bash
# Regenerates docs/rules.md from the rule catalogue (decoders/conformance/rules.cpp) of a built
# tree. tests/check_cli_test.cpp fails while the checked-in file differs from what this writes.
#
# usage: scripts/update-rules-doc.sh [BUILD_DIR]    (default: <repo>/build, built with ninja)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
vhostscope=$build/vhostscope
[[ -x $vhostscope ]] || { echo "update-rules-doc: $vhostscope not built (ninja -C $build)" >&2; exit 2; }

export LC_ALL=C
"$vhostscope" check --list-rules --format markdown -o "$repo/docs/rules.md"
echo "update-rules-doc: wrote docs/rules.md; review it with git diff docs/rules.md"
