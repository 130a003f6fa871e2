#!/usr/bin/env bash
# Issue #25's light install, checked by hand (about 5 minutes; it installs from PyPI, so it is not in the suite):
# `pip install -e .` with no extras into a fresh venv gives working `countries`, `map` and `report` commands and an
# audit of a model served over the OpenAI API (the stub server), and the embedded provider says what to install.
# Usage: tools/check_core_install.sh [WORK_DIR]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d)}"
git clone -q "$repo" "$work/src" && python3 -m venv "$work/venv"
start=$(date +%s)
"$work/venv/bin/pip" install -q -e "$work/src"
echo "core install: $(($(date +%s) - start)) s"
if "$work/venv/bin/python" -c "import xllamacpp" 2>/dev/null; then echo "xllamacpp came with the core install" >&2; exit 1; fi
mkdir -p "$work/run" && cd "$work/run"
bin="$work/venv/bin"
"$bin/culturalign" countries --region Confucian >/dev/null
"$bin/culturalign" map --out m.png >/dev/null && test -s m.png
cp -r "$work/src/results/local-models" study && "$bin/culturalign" report study >/dev/null && test -s study/report.html
"$bin/python" - "$bin/culturalign" <<'PY'
import json, os, subprocess, sys
from culturalign.models.stub_server import StubServer

culturalign = sys.argv[1]
with StubServer() as stub:
    with open("models.yaml", "w") as f:
        json.dump({"models": {"served": {"provider": "openai", "model": "stub", "base_url": stub.base_url}}}, f)
    env = {**os.environ, "CULTURALIGN_MODELS": os.path.abspath("models.yaml"), "CULTURALIGN_CACHE_DIR": "cache"}
    args = ["audit", "--model", "served", "--countries", "Sweden", "--variants", "1", "--out", "audit", "--no-progress"]
    run = subprocess.run([culturalign, *args], capture_output=True, text=True, env=env)
    assert run.returncode == 0 and stub.stats()["requests"] > 0 and os.path.getsize("audit/map.png"), run.stderr[-2000:]
run = subprocess.run([culturalign, "audit", "--countries", "Sweden", "--out", "emb"], capture_output=True, text=True)
assert run.returncode == 2 and "pip install 'culturalign[models]'" in run.stderr and "Traceback" not in run.stderr
print("embedded without [models]:", run.stderr.strip())
PY
echo "core install OK: countries, map, report, a served audit; the embedded provider names what to install"
