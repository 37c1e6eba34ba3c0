#!/usr/bin/env bash
# Build the peers' own virtual environment, OUTSIDE the repository, from the package registry.
#
#   bash bench/peers/setup.sh                    # /tmp/rnncli-peers/venv
#   PEERS_VENV=/somewhere/venv bash bench/peers/setup.sh
#   bash bench/peers/setup.sh --with-joeynmt     # also JoeyNMT 2.3 in $PEERS_VENV-joey
#
# OpenNMT-py 3.5.1 declares torch<2.3,>=2.1; we install it with --no-deps on the same
# torch 2.13.0 (CPU) that rnncli uses, so both sides run the same kernels, and then add
# only the dependencies that its training and translation commands import (its server,
# CTranslate2 and TensorBoard parts are not used). fastText comes from `fasttext-wheel`.
set -euo pipefail
PEERS_VENV=${PEERS_VENV:-/tmp/rnncli-peers/venv}
PYTHON=${PYTHON:-python3}
TORCH_PIN=${TORCH_PIN:-torch==2.13.0}
WITH_JOEY=0
[[ "${1:-}" == "--with-joeynmt" ]] && WITH_JOEY=1

repo=$(cd "$(dirname "$0")/../.." && pwd)
case "$(realpath -m "$PEERS_VENV")/" in
  "$repo"/*) echo "setup.sh: $PEERS_VENV is inside the repository; choose a path outside it" >&2; exit 2;;
esac

"$PYTHON" -m venv "$PEERS_VENV"
pip=("$PEERS_VENV/bin/pip" install -q)
"${pip[@]}" "$TORCH_PIN"
"${pip[@]}" --no-deps "OpenNMT-py==3.5.1"
"${pip[@]}" configargparse pyyaml sacrebleu six sentencepiece "pyonmttok>=1.37,<2" rapidfuzz \
    pyahocorasick spacy "fasttext-wheel==0.9.2" numpy "$TORCH_PIN"
"$PEERS_VENV/bin/onmt_train" -h >/dev/null 2>&1 || { echo "setup.sh: onmt_train does not start" >&2; exit 1; }
"$PEERS_VENV/bin/onmt_translate" -h >/dev/null 2>&1 || { echo "setup.sh: onmt_translate does not start" >&2; exit 1; }
"$PEERS_VENV/bin/python" -c "import fasttext" || { echo "setup.sh: fasttext does not import" >&2; exit 1; }

if [[ $WITH_JOEY == 1 ]]; then
  "$PYTHON" -m venv "$PEERS_VENV-joey"
  "$PEERS_VENV-joey/bin/pip" install -q "$TORCH_PIN"
  "$PEERS_VENV-joey/bin/pip" install -q "joeynmt==2.3.0" importlib_metadata "sentencepiece==0.1.99" "$TORCH_PIN"   # it imports importlib_metadata undeclared; it calls SetVocabulary, gone in sentencepiece 0.2
  "$PEERS_VENV-joey/bin/python" -c "import joeynmt" || { echo "setup.sh: joeynmt does not import" >&2; exit 1; }
  "$PEERS_VENV-joey/bin/pip" freeze > "$PEERS_VENV-joey/peers-freeze.txt"
fi
"$PEERS_VENV/bin/pip" freeze > "$PEERS_VENV/peers-freeze.txt"
echo "peers ready in $PEERS_VENV ($(grep -i -E '^(torch|opennmt-py|fasttext-wheel)==' "$PEERS_VENV/peers-freeze.txt" | tr '\n' ' '))"
