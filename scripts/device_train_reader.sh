#!/usr/bin/env bash
# Train the reader from e5 with all layers free on a lent GPU machine (the tool library's `device`), in one
# call of about 5 minutes: the recipe the CPU cannot finish in a session (README, The reader).
#
# Here, before the call. The working tree travels only under 64 MiB and reader.onnx alone is 136 MB, so it
# stays behind for the call (the training does not read it):
#   python scripts/train_reader.py prepare --work .cache/reader-train-e5 --init e5
#   bash scripts/device_train_reader.sh pack        # .cache/device: the prepared data, about 28 MB
#   git rm --cached -q models/reader-zh/reader.onnx && echo /models/reader-zh/reader.onnx >> .git/info/exclude
# The call: command "bash scripts/device_train_reader.sh train", carry [".cache/device"], timeout_s 600
#   (EPOCHS, LR and EXTRA, e.g. EXTRA="--drcd 0", change the recipe).
# After it:
#   git reset -q models/reader-zh/reader.onnx; sed -i '\#^/models/reader-zh/reader.onnx$#d' .git/info/exclude
#   bash scripts/device_train_reader.sh unpack FILES_AT     # the call's files, joined into .cache/reader-gpu
#   python scripts/extend_reader_vocab.py .cache/reader-gpu && python scripts/export_reader_onnx.py .cache/reader-gpu
#   RAG_READER=.cache/reader-gpu python -m rag eval ../shared/eval/cmrc2018_trial.json --modes hybrid
# and copy the folder into models/reader-zh only if it wins on the validation set (training-log.jsonl).
set -euo pipefail
cd "$(dirname "$0")/.."
step=${1:?"usage: $0 pack | train | unpack FILES_AT [FOLDER]"}
prepared=${WORK:-.cache/reader-train-e5}

case $step in
pack)
  [ -f "$prepared/prepare.json" ] && [ -d "$prepared/base" ] || {
    echo "error: no data prepared from e5 in $prepared; run: python scripts/train_reader.py prepare --work $prepared --init e5" >&2
    exit 1; }
  rm -rf .cache/device && mkdir -p .cache/device
  cp -r "$prepared/base" "$prepared/prepare.json" "$prepared/val.jsonl" "$prepared/trial.jsonl" .cache/device/
  gzip -c "$prepared/train.jsonl" > .cache/device/train.jsonl.gz
  du -sh .cache/device
  ;;
train)
  : "${OUT:?OUT (the folder whose files come back) is unset: this step runs on the device machine}"
  export PYTHONUNBUFFERED=1
  work=/tmp/reader-work
  rm -rf "$work" && mkdir -p "$work" && cp -r .cache/device/. "$work/" && gunzip "$work/train.jsonl.gz"
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
  # shellcheck disable=SC2086  # EXTRA is a list of options
  python3 scripts/train_reader.py train --work "$work" --init e5 --freeze 0 --epochs "${EPOCHS:-3}" \
    --lr "${LR:-1e-4}" --run gpu --checkpoint-every 0 ${EXTRA:-} 2>&1 | tee "$OUT/train.out"
  python3 scripts/train_reader.py export --work "$work" --run gpu --out "$work/reader"
  # Files come back at 16 MiB at most each (8 in all): the 30 MB weights in two parts.
  split -b 15M "$work/reader/model.safetensors" "$OUT/model.safetensors.part-"
  for name in config.json tokenizer.json normalisation.json training.json training-log.jsonl; do
    cp "$work/reader/$name" "$OUT/"
  done
  ls -la "$OUT"
  ;;
unpack)
  from=${2:?"usage: $0 unpack FILES_AT [FOLDER]"}
  into=${3:-.cache/reader-gpu}
  compgen -G "$from/model.safetensors.part-*" >/dev/null || {
    echo "error: no model.safetensors.part-* in $from: give the folder the device call's files lie in (files_at)" >&2
    exit 1; }
  mkdir -p "$into"
  cat "$from"/model.safetensors.part-* > "$into/model.safetensors"
  for name in config.json tokenizer.json normalisation.json training.json training-log.jsonl; do
    cp "$from/$name" "$into/"
  done
  echo "unpacked into $into"
  ;;
*)
  echo "error: unknown step $step (pack, train or unpack)" >&2
  exit 2
  ;;
esac
