#!/bin/sh
# Fuzz the parsers that read untrusted text for a bounded time each, then
# shrink the kept corpus to the inputs that add coverage. The corpus is
# committed; `cargo test` replays it on stable (tests/fuzz_corpus.rs).
#
#   fuzz/run.sh              # 60 s per target
#   SECONDS_PER_TARGET=600 fuzz/run.sh
#
# Needs: rustup toolchain install nightly && cargo install cargo-fuzz
set -eu
cd "$(dirname "$0")"
SECONDS_PER_TARGET=${SECONDS_PER_TARGET:-60}
for target in progress_file quiz_answer user_input; do
    echo "== $target, ${SECONDS_PER_TARGET}s"
    cargo +nightly fuzz run "$target" "corpus/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -max_len=4096
    cargo +nightly fuzz cmin "$target" "corpus/$target"
done
