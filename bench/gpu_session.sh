#!/usr/bin/env bash
# One GPU session's checks and timings, in one call (a lent GPU machine is held by the minute).
#
#   bash bench/gpu_session.sh                 # on the GPU machine; results under $OUT (default /tmp/gpu-out)
#   DEVICE=cpu BUDGET=240 bash bench/gpu_session.sh   # the plumbing, here, on a CPU
#
# Writes summary.txt, one JSON per timing and logs.tgz (8 files: what one device call returns).
# In priority order, each part under its own time limit so a slow part cannot starve the rest,
# inside a total BUDGET (seconds):
#   1. tests/test_gpu.py: AMP (fp16, bf16) training, cuDNN against the CPU, exact resume, NCCL
#   2. bench/peers/run_peers.py --device cuda: OpenNMT-py against rnncli, fp32 on both sides
#   3. bench/bench_lm.py and bench/bench_tag.py: LM and tagger training throughput, fp32 and bf16
#   4. run_peers.py again with fp16 on both sides, if time is left
#
# The GPU machine has torch but no package registry. Its missing packages travel as wheels in
# .whl/ (typer 0.29 and pydantic, seqeval, OpenNMT-py 3.5.1, configargparse, pyonmttok; see
# README "GPU"), and the corpora in DATA (default .devdata/, a copy of ../shared/data's
# multi30k, conll2003 and tinyshakespeare, never committed). OpenNMT-py's transforms package
# imports every transform's library at start; the ones these runs never use (spacy,
# pyahocorasick, rapidfuzz, fasttext) are given empty stand-in modules, on OpenNMT-py's
# PYTHONPATH only.
#
# Preparing the two ignored folders, here (Python 3.12 wheels for that machine's python3):
#   printf '/.whl/\n/.devdata/\n' >> .git/info/exclude
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl typer==0.29.2 \
#     pydantic==2.14.4 pydantic_core==2.50.5 annotated-types typing-inspection typing_extensions \
#     configargparse OpenNMT-py==3.5.1 pyonmttok==1.38.1
#   pip wheel --no-deps -w .whl seqeval==1.2.2          # an sdist only: build its wheel here
#   mkdir -p .devdata && cp -r ../shared/data/{multi30k,conll2003,tinyshakespeare} .devdata/
# and name both in the device call's carry.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-out}
DEVICE=${DEVICE:-cuda}
BUDGET=${BUDGET:-560}
DATA=${DATA:-.devdata}
PY=${PYTHON:-python3}
THREADS=${THREADS:-8}
mkdir -p "$OUT"
started=$SECONDS

WHEELS=${WHEELS:-.whl}
if compgen -G "$WHEELS/*.whl" >/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$WHEELS"/*.whl \
    || { echo "gpu_session: wheels did not install" >&2; exit 1; }
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1

stubs=/tmp/onmt-stubs
mkdir -p "$stubs/rapidfuzz"
for mod in spacy ahocorasick fasttext; do
  "$PY" -c "import $mod" 2>/dev/null || echo "# stand-in: this transform's library is not installed" >"$stubs/$mod.py"
done
"$PY" -c "import rapidfuzz" 2>/dev/null || echo "fuzz = process = None  # stand-in" >"$stubs/rapidfuzz/__init__.py"
onmt_python=/tmp/onmt-python
printf '#!/bin/sh\nPYTHONPATH=%s:$PYTHONPATH exec %s "$@"\n' "$stubs" "$(command -v "$PY")" >"$onmt_python"
chmod +x "$onmt_python"

left() { echo $((BUDGET - (SECONDS - started))); }
# part NAME CAP CMD...: run CMD under min(CAP, what is left); its output in $OUT/NAME.log
part() {
  local name=$1 cap=$2; shift 2
  local limit; limit=$(left); ((limit > cap)) && limit=$cap
  if ((limit < 20)); then echo "$name: skipped, ${limit}s left" | tee -a "$OUT/summary.txt"; return; fi
  local t0=$SECONDS
  timeout -k 5 "$limit" "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  echo "$name: rc=$rc in $((SECONDS - t0))s (limit ${limit}s)" | tee -a "$OUT/summary.txt"
}

{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv 2>&1
  "$PY" -c "import torch, sys; print(sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda,
'cudnn', torch.backends.cudnn.version(), 'gpu', torch.cuda.is_available() and torch.cuda.get_device_name())"
  nproc
  "$PY" -m rnncli --version && "$onmt_python" -c "import onmt.bin.train, onmt.bin.translate; print('onmt imports')"
} >"$OUT/summary.txt" 2>&1
cat "$OUT/summary.txt"

peers=(bench/peers/run_peers.py --device "$DEVICE" --threads "$THREADS" --skip-classify --data "$DATA"
       --onmt-python "$onmt_python" --work /tmp/peers-work)
lm=(bench/bench_lm.py --data "$DATA/tinyshakespeare/input.txt" --threads "$THREADS")
tag=(bench/bench_tag.py --data "$DATA/conll2003" --threads "$THREADS")
if [[ $DEVICE == cuda ]]; then
  part test_gpu 150 "$PY" -m pytest -q -p no:cacheprovider tests/test_gpu.py
  part peers_fp32 200 "$PY" "${peers[@]}" --steps 300 --repeats 2 --out-json "$OUT/peers_fp32.json"
  for precision in fp32 bf16; do
    part "lm_$precision" 55 "$PY" "${lm[@]}" --max-time 0.4 --out-json "$OUT/lm_$precision.json" -- \
      --device cuda --precision "$precision"
  done
  part tag_bf16 80 "$PY" "${tag[@]}" --max-time 0.5 --out-json "$OUT/tag_bf16.json" -- --device cuda --precision bf16
  part peers_fp16 150 "$PY" "${peers[@]}" --steps 300 --repeats 1 --precision fp16 --out-json "$OUT/peers_fp16.json"
  part tag_fp32 80 "$PY" "${tag[@]}" --max-time 0.5 --out-json "$OUT/tag_fp32.json" -- --device cuda --precision fp32
else   # the plumbing only, small
  part peers_fp32 200 "$PY" "${peers[@]}" --steps 30 --repeats 1 --out-json "$OUT/peers_fp32.json"
  part lm_fp32 60 "$PY" "${lm[@]}" --max-time 0.2 --out-json "$OUT/lm_fp32.json" -- --device cpu
  part tag_fp32 120 "$PY" "${tag[@]}" --max-time 0.2 --out-json "$OUT/tag_fp32.json" -- --device cpu
fi

echo "--- summary ($((SECONDS - started))s)"
cat "$OUT/summary.txt"
for f in "$OUT"/peers_*.json; do [[ -f $f ]] && "$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['table'])" "$f"; done
for f in "$OUT"/lm_*.json "$OUT"/tag_*.json; do
  [[ -f $f ]] && "$PY" - "$f" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
keys = ("train_chars_per_s", "train_sentences_per_s", "valid_nats_per_char", "testa_f1", "train_steps", "stop_reason")
print(sys.argv[1].rsplit("/", 1)[-1], {k: round(r[k], 3) if isinstance(r[k], float) else r[k] for k in keys if k in r})
EOF
done
grep -E "passed|failed|error" "$OUT/test_gpu.log" 2>/dev/null | tail -3 | tee -a "$OUT/summary.txt"
# At most 8 files come back from a device call: the logs travel as one archive.
(cd "$OUT" && tar czf logs.tgz ./*.log && rm -f ./*.log)
