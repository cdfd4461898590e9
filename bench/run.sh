#!/bin/sh
# Compare learnns with unshare+chroot, bwrap and crun doing the same work, in
# one run, and print ratios (absolute times on a shared machine are noise).
#
#   sudo bench/run.sh            # needs hyperfine; bwrap and crun when installed
#   RUNS=200 sudo bench/run.sh
#
# Optional peers: sudo apt-get install hyperfine bubblewrap crun
set -eu

RUNS=${RUNS:-100}
cd "$(dirname "$0")/.."
SELF=$PWD/bench/run.sh

# crun refuses hybrid cgroup machines whose v2 tree has controllers. Run the
# whole comparison (every tool alike) in a private mount namespace without
# that tree; the host's mounts are not touched.
if [ -z "${LNSBENCH_PRIVATE:-}" ] && command -v crun >/dev/null \
    && grep -qs . /sys/fs/cgroup/unified/cgroup.controllers; then
    exec env LNSBENCH_PRIVATE=1 unshare --mount --propagation private \
        sh -c 'umount /sys/fs/cgroup/unified && exec "$0"' "$SELF"
fi
command -v hyperfine >/dev/null || { echo "bench: hyperfine is missing; fix: sudo apt-get install hyperfine (or cargo install hyperfine)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "bench: run as root (the peers need it too): sudo bench/run.sh" >&2; exit 1; }
cargo build --release --quiet
LEARNNS=$PWD/target/release/learnns

WORK=$(mktemp -d /tmp/lnsbench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT INT TERM

# The same root for everyone: /bin/true, /bin/sh and the libraries they load.
ROOT=$WORK/bundle/rootfs
mkdir -p "$ROOT/bin" "$ROOT/proc" "$ROOT/dev" "$ROOT/sys" "$ROOT/tmp" "$ROOT/etc"
for prog in /bin/true /bin/sh; do
    cp -L "$prog" "$ROOT/bin/"
    ldd "$prog" | grep -o '/[^ ]*' | while read -r lib; do
        mkdir -p "$ROOT$(dirname "$lib")"
        cp -L "$lib" "$ROOT$lib"
    done
done

KINDS="--uts --ipc --pid --net --cgroup --time"
set -- \
    -n "learnns run (same root)" "$LEARNNS run $KINDS --mnt --rootfs $ROOT -- /bin/true" \
    -n "unshare + chroot" "unshare $KINDS --fork --mount --mount-proc chroot $ROOT /bin/true"
if command -v bwrap >/dev/null; then
    set -- "$@" -n "bwrap --unshare-all" "bwrap --unshare-all --bind $ROOT / --proc /proc --dev /dev /bin/true"
fi
if command -v crun >/dev/null; then
    (cd "$WORK/bundle" && crun spec)
    sed -i -e 's/"terminal": true/"terminal": false/' -e 's/"sh"$/"\/bin\/true"/' "$WORK/bundle/config.json"
    set -- "$@" -n "crun run" "crun run --bundle $WORK/bundle lnsbench-$$"
fi
set -- "$@" -n "learnns run --all (mini root)" "$LEARNNS run --all -- /bin/true"

echo "== a container running /bin/true, $RUNS runs each"
hyperfine -N --warmup 10 --runs "$RUNS" --export-json "$WORK/run.json" "$@"

echo "== learnns --help against /bin/true"
hyperfine -N --warmup 10 --runs "$RUNS" --export-json "$WORK/help.json" \
    -n "learnns --help" "$LEARNNS --help" -n "/bin/true" "/bin/true"

echo "== every lesson with --no-pause"
set --
for n in 0 1 2 3 4 5 6 7 8 9; do
    set -- "$@" -n "lesson $n" "$LEARNNS lesson $n --no-pause"
done
hyperfine -N --warmup 1 --runs 5 --export-json "$WORK/lessons.json" "$@"

python3 - "$WORK" <<'PY'
import json, sys
work = sys.argv[1]
def means(name):
    return {r["command"]: r["mean"] for r in json.load(open(f"{work}/{name}.json"))["results"]}
run, hlp, les = means("run"), means("help"), means("lessons")
me = run["learnns run (same root)"]
print("\nratios (lower is faster for the left side; targets in brackets)")
print(f"  learnns / unshare+chroot   {me / run['unshare + chroot']:5.2f}   [<= 1.00]")
if "bwrap --unshare-all" in run:
    print(f"  learnns / bwrap            {me / run['bwrap --unshare-all']:5.2f}")
if "crun run" in run:
    print(f"  crun / learnns             {run['crun run'] / me:5.2f}   [>= 3.00]")
print(f"  mini root / same root      {run['learnns run --all (mini root)'] / me:5.2f}   (learnns assembling its own root)")
print(f"  learnns --help / /bin/true {hlp['learnns --help'] / hlp['/bin/true']:5.2f}   [<= 2.00]")
print("\nlessons with --no-pause (mean seconds)")
for cmd, mean in les.items():
    print(f"  {cmd:<30} {mean:6.3f}")
print(f"  {'all ten':<30} {sum(les.values()):6.3f}")
PY
