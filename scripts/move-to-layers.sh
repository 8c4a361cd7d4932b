#!/bin/bash
# move-to-layers.sh — for branches written against the flat server/ folder
# (before the layer folders of server/LAYERS): rewrites every
# `#include "server/<file>"` of the old layout to the file's folder, and
# `git mv`s files still lying in server/ into their folder (cmd_* and
# script* into commands/, anything else into the folder given).
#   scripts/move-to-layers.sh [folder-for-unknown-files]
# Run at the repository root after merging; then build: the include check
# (scripts/check_layers.cmake) names whatever still goes against the arrows.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
fallback=${1:-}

# The folder of a new file: commands for command families and scripting,
# else the one given as the argument.
folder_of() {
    case "$1" in
    cmd_*|script*) echo commands ;;
    *) echo "$fallback" ;;
    esac
}

# Loose files first, so their includes are rewritten too.
for f in server/*.c server/*.h; do
    [ -e "$f" ] || continue
    name=$(basename "$f")
    dir=$(folder_of "$name")
    if [ -z "$dir" ]; then
        echo "move-to-layers: no folder known for $f; pass one as the argument" >&2
        exit 1
    fi
    git mv "$f" "server/$dir/$name"
    echo "moved $f -> server/$dir/$name"
done

# Include paths of the flat layout, everywhere C is.
sed_args=()
for f in $(git ls-files 'server/*/*.c' 'server/*/*.h'); do
    name=$(basename "$f")
    dir=$(dirname "$f")
    sed_args+=(-e "s|#include \"server/$name\"|#include \"$dir/$name\"|")
done
git ls-files '*.c' '*.h' | xargs grep -l '#include "server/[a-z_0-9]*\.h"' 2>/dev/null |
    xargs -r sed -i "${sed_args[@]}" || true

# Functions renamed by the move into layers (the reply FIFO is net's now).
git ls-files 'server/*.c' 'server/*.h' 'tests/*.c' | xargs -r sed -i \
    -e 's/\bdispatch_reply_buf(/reply_fifo_buf(/g' \
    -e 's/\bdispatch_slot_new(/reply_fifo_slot_new(/g' \
    -e 's/\bdispatch_slot_free(/reply_fifo_slot_free(/g' \
    -e 's/\bserver_config_changed(/worker_config_changed(/g'
echo "move-to-layers: done; now build (the include check runs first)"
