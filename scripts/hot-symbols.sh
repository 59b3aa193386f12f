#!/bin/bash
# Regenerates crates/hako/hot-symbols.txt: the functions hako's common commands run, which the
# release link places together at the start of .text (see crates/hako/build.rs for why that
# halves a command's resident memory).
#
# It builds the release binary exactly as scripts/build-release.sh does (same flags, so the
# same symbol names) but unstripped, runs a container's whole lifecycle and the read-only
# commands under valgrind's callgrind, and lists every function that ran, in first-run order.
# Needs root, valgrind and /bin/busybox. Rerun it after large changes; a stale list only costs
# memory (functions it no longer names are laid out after the hot ones).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
B=$(HAKO_KEEP_SYMBOLS=1 CARGO_TARGET_DIR=$repo/target/hot-symbols scripts/build-release.sh)
work=$(mktemp -d /tmp/hako-hot.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$work/b/rootfs/bin" "$work/cg"
cp /bin/busybox "$work/b/rootfs/bin/"
for a in sh true sleep cat; do ln -s busybox "$work/b/rootfs/bin/$a"; done
(cd "$work/b" && "$B" spec)
# valgrind keeps fds of its own and cannot take rlimits; the process itself runs natively
# (--trace-children-skip), only hako's code is profiled, including the init before its exec.
python3 - "$work/b/config.json" <<'EOF'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/sleep", "100"]
c["process"].pop("rlimits", None)
json.dump(c, open(p, "w"))
c["process"]["args"] = ["/bin/true"]
try:
    c["linux"]["seccomp"] = json.load(open("/usr/share/containers/seccomp.json"))
except OSError:
    pass
import os
os.makedirs(os.path.dirname(p) + "/../s", exist_ok=True)
json.dump(c, open(os.path.dirname(p) + "/../s/config.json", "w"))
EOF
ln -s ../b/rootfs "$work/s/rootfs"
vg() {
  valgrind -q --tool=callgrind --demangle=no --trace-children=yes --trace-children-skip='*' \
    --callgrind-out-file="$work/cg/%p.out" "$B" --root "$root" "$@" >/dev/null 2>&1 || true
}
cd "$work/b"
vg --version
vg spec --bundle "$work"
vg features
vg check --bundle .
vg create --bundle . c1
vg start c1
vg state c1
vg list
vg ps c1
vg exec c1 /bin/true
vg pause c1
vg resume c1
vg events --stats c1
vg update --memory 64M c1
vg kill c1 KILL
sleep 0.3
vg delete c1
vg run --bundle . -d c2
vg delete -f c2
vg run --bundle "$work/s" c3
vg delete -f c3
vg state nosuch
cd "$repo"
python3 - "$work/cg" "$B" crates/hako/hot-symbols.txt <<'EOF'
import glob, re, subprocess, sys
cg, binary, out = sys.argv[1:4]
names, seen = [], set()
for f in sorted(glob.glob(cg + "/*.out"), key=lambda f: int(f.rsplit("/", 1)[1].split(".")[0])):
    for line in open(f, errors="replace"):
        m = re.match(r"^c?fn=\(\d+\) (.+)$", line.rstrip("\n"))
        if m:
            n = re.sub(r"'\d+$", "", m.group(1))
            if n not in seen:
                seen.add(n)
                names.append(n)
nm = subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True).stdout
defined = [l.split()[2] for l in nm.splitlines() if len(l.split()) == 3 and l.split()[1] in "tTwW"]
known = set(defined)
hot = [n for n in names if n in known]
# glibc picks string-function variants by CPU at startup (valgrind's CPU is not the host's):
# keep every variant of a function that ran.
variant = re.compile(r"^(__\w+?)_(sse2|ssse3|sse4_1|sse42|avx|avx2|evex|avx512)\w*$")
bases = {variant.match(n).group(1) for n in hot if variant.match(n)}
extra = [n for n in defined if variant.match(n) and variant.match(n).group(1) in bases and n not in seen]
with open(out, "w") as f:
    f.write("\n".join(hot + sorted(set(extra))) + "\n")
print(f"{out}: {len(hot)} functions that ran, {len(set(extra))} CPU variants", file=sys.stderr)
EOF
