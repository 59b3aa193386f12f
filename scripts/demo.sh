#!/bin/bash
# One command for a fresh machine: install what is needed, build hako, generate a busybox
# bundle and run a container that prints what it sees from inside.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "run as root (hako creates namespaces, mounts and cgroups)" >&2; exit 1; }
scripts/install-deps.sh
HAKO=$(scripts/build-release.sh)
DEMO=${DEMO_DIR:-/tmp/hako-demo}
rm -rf "$DEMO"
mkdir -p "$DEMO/rootfs/bin"
cp /bin/busybox "$DEMO/rootfs/bin/busybox"
for a in sh echo cat hostname id ls mount ps uname head grep; do ln -s busybox "$DEMO/rootfs/bin/$a"; done
cd "$DEMO"
"$HAKO" spec
# Not a terminal: print and exit.
python3 - <<'PY'
import json
c = json.load(open("config.json"))
c["process"]["terminal"] = False
c["hostname"] = "hako-demo"
c["process"]["args"] = ["sh", "-c",
    "echo \"hello from inside hako: hostname $(hostname), pid $$, $(id)\"; "
    "echo 'processes:'; ps -o pid,comm; echo 'mounts:'; mount | head -8"]
json.dump(c, open("config.json", "w"), indent=2)
PY
echo "+ hako run demo   (bundle $DEMO)"
exec "$HAKO" --root /run/hako-demo run demo-$$
