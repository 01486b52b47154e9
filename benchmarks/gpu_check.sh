#!/usr/bin/env bash
# The GPU check (issue 21): the main job, the deep generators' trainings and the feature spaces on one GPU,
# with wall time, images/s and peak GPU memory of each step in OUT/report.json and OUT/report.md.
#
#   bash benchmarks/gpu_check.sh [--device cuda] [--out runs/gpu-check] [--data-root DIR] [--python PYTHON]
#   bash benchmarks/gpu_check.sh --device cpu --tiny --out DIR      # the seconds-long CPU version CI runs
#
# Steps: (1) `cxrbench run --models all` at the defaults; (2) `cxrbench train` of pggan-lco, cgan and
# diffusion-small on the NIH ChestX-ray14 sample (--data-root, default ../shared/data/nih-cxr14-sample from
# the repository root; skipped with the reason when absent) at 256 px for a fixed budget, with sample grids
# (the GANs' own, and 16 diffusion-small samples tiled); (3) images/s of every feature space, the FID
# Inception against torch-fidelity's own forward; (4) bf16/fp16 autocast against float32 (features and an
# FD value). Plus nvidia-smi (when present) and `cxrbench env`. --tiny: a tiny phantom and tiny networks
# (benchmarks/gpu_check_tiny.toml), 32 px trainings of a few steps. OUT must be new or empty. The cache is
# the usual one (CXRBENCH_CACHE, else ~/.cache/cxrbench): give an empty one for a cold timing; the report
# says whether it was empty. The measurements are made by benchmarks/gpu_throughput.py.
set -euo pipefail

device=cuda out=runs/gpu-check tiny=false data_root="" python=python
while (($#)); do
    case $1 in
        --device) device=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --tiny) tiny=true; shift ;;
        --data-root) data_root=$2; shift 2 ;;
        --python) python=$2; shift 2 ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "gpu_check.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
out=$(realpath -m "$out")
[[ -n $data_root ]] && data_root=$(realpath -m "$data_root")
cd "$(dirname "$0")/.."  # the repository root: benchmarks/ and the default data root are relative to it
data_root=${data_root:-$(realpath -m ../shared/data/nih-cxr14-sample)}
if [[ -d $out && -n $(ls -A "$out") ]]; then
    echo "gpu_check.sh: $out is not empty (a rerun would resume and time nothing); give a new --out" >&2
    exit 2
fi
mkdir -p "$out/train"

if $tiny; then
    resolution=32
    run_settings=(--config benchmarks/gpu_check_tiny.toml)
    pggan=(--set 'model.pggan-lco.pggan={phase_images=16,batch_size=16,checkpoint_every=2}'
        --set model.pggan-lco.classifier_epochs=1 --set 'model.pggan-lco.lco={steps=3}')
    pggan_images=16 pggan_batch=16
    cgan=(--set 'model.cgan.gan={train_images=32,batch_size=16,checkpoint_every=1}')
    cgan_images=32 cgan_batch=16
    diffusion=(--set model.diffusion-small.steps=3 --set 'model.diffusion-small.training={steps=4,batch_size=8}'
        --set 'model.diffusion-small.network={sample_size=32,pixel_unshuffle=2,channels=[16,32],head_dim=8,text_width=16,text_layers=1,text_heads=2}')
    diffusion_steps=4 diffusion_batch=8
    spaces=(--config benchmarks/gpu_check_tiny.toml --images 4 --batch-size 4 --repeats 1 --sizes tiny --autocast bf16)
else
    resolution=256
    run_settings=()
    # Fixed budgets: the GPU presets (published network sizes), far fewer images than the published schedules.
    pggan=(--set model.pggan-lco.preset=gpu --set 'model.pggan-lco.pggan={phase_images=2000,checkpoint_every=200}')
    pggan_images=2000 pggan_batch=16
    cgan=(--set model.cgan.preset=gpu --set 'model.cgan.gan={train_images=20000,checkpoint_every=100}')
    cgan_images=20000 cgan_batch=32
    diffusion=(--set model.diffusion-small.preset=gpu
        --set 'model.diffusion-small.training={steps=300,checkpoint_every=100}')
    diffusion_steps=300 diffusion_batch=32
    spaces=(--images 1024 --batch-size 64 --repeats 3 --sizes published --autocast bf16,fp16)
fi
nih=(--data nih-cxr14 --data-root "$data_root" --set data.view=both --resolution "$resolution" --device "$device")
report="$out/report.json"
measure() { "$python" benchmarks/gpu_throughput.py "$1" --report "$report" "${@:2}"; }

# Images each training shows: pggan-lco a phase budget per phase (4 px, then a fade-in and a stable phase per
# doubling), cgan its total, diffusion-small steps x batch.
phases=1
for ((side = 8; side <= resolution; side *= 2)); do phases=$((phases + 2)); done

measure init --setting device="$device" --setting tiny="$tiny" --setting out="$out" --setting data_root="$data_root" \
    --setting train_resolution="$resolution" --setting commit="$(git describe --always --dirty 2>/dev/null || echo unknown)"
if command -v nvidia-smi >/dev/null; then
    nvidia-smi >"$out/nvidia-smi.txt" 2>&1 || echo "nvidia-smi failed" >>"$out/nvidia-smi.txt"
fi
# The Markdown report is written whatever happens next, so a failed step still leaves what it measured.
trap 'measure report --text nvidia-smi="$out/nvidia-smi.txt" --text "cxrbench env=$out/env.txt"' EXIT
"$python" -m cxrbench.cli env >"$out/env.txt"

echo "== (1) cxrbench run --models all"
measure cli --step run --manifest "$out/run/manifest.json" -- \
    run --models all --device "$device" --out "$out/run" "${run_settings[@]}"

echo "== (2) training the deep generators on the NIH sample at $resolution px"
if [[ -d $data_root ]]; then
    measure cli --step train-pggan-lco --images $((phases * (pggan_images / pggan_batch) * pggan_batch)) \
        --grids "$out/train/pggan-lco.training/grids" -- train pggan-lco --out "$out/train/pggan-lco" "${nih[@]}" "${pggan[@]}"
    measure cli --step train-cgan --images $((cgan_images / cgan_batch * cgan_batch)) \
        --grids "$out/train/cgan.training/grids" -- train cgan --out "$out/train/cgan" "${nih[@]}" "${cgan[@]}"
    measure cli --step train-diffusion-small --images $((diffusion_steps * diffusion_batch)) -- \
        train diffusion-small --out "$out/train/diffusion-small" "${nih[@]}" "${diffusion[@]}"
    measure cli --step sample-diffusion-small --images 16 -- generate diffusion-small --task pleural_effusion \
        --condition present --n 16 --checkpoint "$out/train/diffusion-small" --out "$out/train/diffusion-small.samples" \
        "${nih[@]}" "${diffusion[@]}"
    measure grid --step train-diffusion-small "$out/train/diffusion-small.samples" \
        "$out/train/diffusion-small.training/grids/samples.png"
else
    for model in pggan-lco cgan diffusion-small; do
        measure skip --step "train-$model" --reason "no NIH ChestX-ray14 sample at $data_root (--data-root)"
    done
fi

echo "== (3, 4) feature spaces: images/s, torch-fidelity's forward, autocast"
measure spaces --device "$device" "${spaces[@]}"
