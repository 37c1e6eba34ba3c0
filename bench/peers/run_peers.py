"""Peers in the same run: OpenNMT-py and fastText against rnncli, interleaved (not a test).

    bash bench/peers/setup.sh                               # once: the peers' venv, outside the repo
    .venv/bin/python bench/peers/run_peers.py               # ~15 minutes on 2 cores
    .venv/bin/python bench/peers/run_peers.py --steps 30 --repeats 1 --classify-minutes 0.5   # a smoke run
    python bench/peers/run_peers.py --device cuda --skip-classify [--precision fp16]   # on a GPU (bench/gpu_session.sh)

The machine's speed drifts by up to 40% between hours, so a ratio means something only when
both sides run in the same run: every measurement here runs the peer and rnncli one after
another (peer, rnncli, peer, rnncli ...), each in its own child process, with the same
thread count (OMP_NUM_THREADS and torch threads).

Translation (Multi30k en->de): one joint 8k unigram sentencepiece model, trained once with
rnncli's tokenizer module; OpenNMT-py reads its pieces, rnncli uses the model itself. The
same shape on both sides: one bidirectional LSTM layer of 2x128 (OpenNMT-py `-brnn
-enc_hid_size 256`), a 256-unit LSTM decoder, 256-dim shared embeddings, general (Luong)
attention, dropout 0.25, label smoothing 0.1, batches of 64 sentences, Adam(W) at 2e-3,
clipping at 1. Each side trains --steps steps per repeat; training target tokens/s is
measured over steps 10-100 (as issue 15's OpenNMT-py figures), and over steps 10-N. The
step-N models then beam-decode val (beam 5, GNMT length penalty 0.6, output limit twice
the source length, batches of 64) in a fresh process; sentences/s counts decoding only
(model loaded), the mean output length is shown beside it (an undertrained model's output
length drives its decoding time). OpenNMT-py keeps its own default decoder (input feeding,
`--onmt-input-feed 0` turns it off) and its default 2 data-loading workers; its length
bucket is 32,768 examples (its default, 262,144, cycles the corpus 9 times before step 1).

Classification (SST-2): fastText (`fasttext-wheel`, wordNgrams 2, 5 epochs) against
`bench/bench_classify.py` (rnncli's default classifier, --classify-minutes of training).

Prints one table of ratios (rnncli / peer) and writes bench/results/peers.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import joeynmt_side  # noqa: E402  (bench/peers/joeynmt_side.py)
import onmt_side  # noqa: E402  (bench/peers/onmt_side.py)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / ".." / "shared" / "data")
    parser.add_argument("--peers-venv", type=Path, default=Path(os.environ.get("PEERS_VENV", "/tmp/rnncli-peers/venv")))
    parser.add_argument("--work", type=Path, default=Path("/tmp/rnncli-peers/work"),
                        help="scratch folder outside the repo: pieces, configs, checkpoints, logs")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                        help="where both translation sides train and decode (fastText stays on the CPU)")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "fp16"),
                        help="training precision on both sides: fp16 is OpenNMT-py's model_dtype fp16 (torch "
                             "autocast and a loss scale) and rnncli's --precision fp16; decoding stays fp32")
    parser.add_argument("--onmt-python", type=Path, default=None,
                        help="a Python that imports onmt (default: the peers venv's); on a machine that cannot "
                             "build the venv, one with OpenNMT-py on its PYTHONPATH")
    parser.add_argument("--steps", type=int, default=300, help="training steps per model")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved repeats per side")
    parser.add_argument("--onmt-input-feed", type=int, default=1, choices=(0, 1))
    parser.add_argument("--joeynmt", action="store_true", help="also JoeyNMT 2.3 (setup.sh --with-joeynmt)")
    parser.add_argument("--joeynmt-repeats", type=int, default=1, help="JoeyNMT runs (its decoder is slow)")
    parser.add_argument("--classify-minutes", type=float, default=4.0, help="rnncli classify training budget")
    parser.add_argument("--skip-mt", action="store_true")
    parser.add_argument("--skip-classify", action="store_true")
    parser.add_argument("--out-json", type=Path, default=ROOT / "bench" / "results" / "peers.json")
    args = parser.parse_args()
    work = args.work.resolve()
    if work == ROOT or ROOT in work.parents:
        parser.error(f"--work {args.work} is inside the repository; choose a folder outside it")
    if args.precision != "fp32" and args.device != "cuda":
        parser.error("--precision fp16 needs --device cuda")
    args.onmt_python = args.onmt_python or args.peers_venv / "bin" / "python"
    return args


def run_child(cmd: list[str], log: Path, threads: int, extra_env: dict | None = None, gpu: bool = False) -> dict:
    """Run one child process; its stdout, wall seconds and peak RSS (MiB, from wait4). It sees
    no GPU unless `gpu`."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           "PYTHONWARNINGS": "ignore", **({} if gpu else {"CUDA_VISIBLE_DEVICES": ""}), **(extra_env or {})}
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(log, "w", encoding="utf-8") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=env, cwd=ROOT, text=True)
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.stderr.write(log.read_text(encoding="utf-8")[-3000:])
        raise SystemExit(f"run_peers: failed ({proc.returncode}): {' '.join(cmd)} (log: {log})")
    print(f"  {wall:6.1f} s  {usage.ru_maxrss / 1024:6.0f} MiB  {' '.join(str(c) for c in cmd[:4])} ...",
          file=sys.stderr, flush=True)
    return {"stdout": out, "wall_seconds": wall, "peak_rss_mib": usage.ru_maxrss / 1024}


def last_json(stdout: str) -> dict:
    return json.loads([line for line in stdout.splitlines() if line.startswith("{")][-1])


# ---- rnncli --------------------------------------------------------------------------------
def rnncli_train(args, spm: Path, rep: int) -> dict:
    out = args.work / "rnncli" / f"r{rep}"
    cmd = [sys.executable, str(HERE / "rnncli_mt.py"), "train", "--data", str(args.data / "multi30k"),
           "--spm", str(spm), "--out", str(out), "--steps", str(args.steps), "--threads", str(args.threads),
           "--device", args.device, "--precision", args.precision]
    child = run_child(cmd, args.work / "rnncli" / f"train-r{rep}.log", args.threads, gpu=args.device == "cuda")
    return {**last_json(child["stdout"]), "wall_seconds": child["wall_seconds"],
            "peak_rss_mib": child["peak_rss_mib"], "model": str(out)}


def rnncli_probe(args, rep: int) -> dict:
    """bench/measure_translate_speed.py --steps 60 --encoder-hidden 128: the probe behind
    issue 15's figures (its own loop over the task's batches, its own tokenizer)."""
    cmd = [sys.executable, str(ROOT / "bench" / "measure_translate_speed.py"), "--data", str(args.data / "multi30k"),
           "--threads", str(args.threads), "--steps", "60", "--encoder-hidden", "128"]
    child = run_child(cmd, args.work / "rnncli" / f"probe-r{rep}.log", args.threads)
    rate = float(re.search(r"([\d,]+) tokens/s wall", child["stdout"])[1].replace(",", ""))
    return {"tgt_tokens_per_s": rate, "wall_seconds": child["wall_seconds"], "peak_rss_mib": child["peak_rss_mib"]}


def rnncli_decode(args, ckpt: str, rep: int) -> dict:
    hyp = args.work / "rnncli" / f"val.hyp.r{rep}.de"
    cmd = [sys.executable, str(HERE / "rnncli_mt.py"), "decode", "--ckpt", ckpt,
           "--src", str(args.data / "multi30k" / "val.en"), "--hyp-out", str(hyp), "--threads", str(args.threads), "--device", args.device]
    child = run_child(cmd, args.work / "rnncli" / f"decode-r{rep}.log", args.threads, gpu=args.device == "cuda")
    return {**last_json(child["stdout"]), "wall_seconds": child["wall_seconds"],
            "peak_rss_mib": child["peak_rss_mib"], "hyp": str(hyp)}


def bleu(hyps: list[str], ref_path: Path) -> float:
    import sacrebleu

    refs = ref_path.read_text(encoding="utf-8").splitlines()
    return sacrebleu.corpus_bleu(hyps, [refs]).score


def translation(args) -> dict:
    spm = args.work / "spm"
    child = run_child([sys.executable, str(HERE / "rnncli_mt.py"), "spm", "--data", str(args.data / "multi30k"),
                       "--out", str(spm)], args.work / "spm.log", args.threads)
    import sentencepiece

    processor = sentencepiece.SentencePieceProcessor(model_file=str(spm / "spm.model"))
    ref = args.data / "multi30k" / "val.de"
    runs = {"onmt": [], "rnncli": []}
    for rep in range(args.repeats):   # peer, rnncli, peer, rnncli: training, then decoding
        print(f"repeat {rep + 1}/{args.repeats}: training", file=sys.stderr, flush=True)
        onmt, ours = onmt_side.train(args, spm, rep, run_child), rnncli_train(args, spm, rep)
        if args.device == "cpu":   # the probe is a CPU measurement
            ours["probe"] = rnncli_probe(args, rep)
        print(f"repeat {rep + 1}/{args.repeats}: beam-5 decoding of val", file=sys.stderr, flush=True)
        onmt["decode"] = onmt_side.decode(args, spm, onmt["model"], rep, run_child)
        ours["decode"] = rnncli_decode(args, ours["model"], rep)
        pieces = Path(onmt["decode"]["hyp_pieces"]).read_text(encoding="utf-8").splitlines()
        onmt["decode"]["val_bleu"] = bleu([processor.decode(p.split()) for p in pieces], ref)
        ours["decode"]["val_bleu"] = bleu(Path(ours["decode"]["hyp"]).read_text(encoding="utf-8").splitlines(), ref)
        runs["onmt"].append(onmt)
        runs["rnncli"].append(ours)
    return {"spm": last_json(child["stdout"]), **runs}


def joeynmt(args) -> list[dict]:
    """JoeyNMT runs, last in the run (its Python-loop decoder is slow: a late stop keeps
    everything else); its ratios are against the rnncli runs above."""
    import sentencepiece

    spm = args.work / "spm"
    processor = sentencepiece.SentencePieceProcessor(model_file=str(spm / "spm.model"))
    runs = []
    for rep in range(args.joeynmt_repeats):
        print(f"JoeyNMT {rep + 1}/{args.joeynmt_repeats}: training, then beam-5 decoding of val", file=sys.stderr,
              flush=True)
        joey = joeynmt_side.train(args, spm, rep, run_child)
        joey["decode"] = joeynmt_side.decode(args, joey, rep, run_child)
        texts = Path(joey["decode"]["hyp"]).read_text(encoding="utf-8").splitlines()
        joey["decode"]["val_bleu"] = bleu(texts, args.data / "multi30k" / "val.de")
        joey["decode"]["pieces_per_sentence"] = sum(len(p) for p in processor.encode(texts)) / len(texts)
        runs.append(joey)
    return runs


# ---- classification ------------------------------------------------------------------------
def classification(args) -> dict:
    sst2 = args.data / "sst2"
    runs = {"fasttext": [], "rnncli": []}
    fast_cmd = [str(args.peers_venv / "bin" / "python"), str(HERE / "fasttext_sst2.py"), "--data", str(sst2),
                "--work", str(args.work / "fasttext"), "--threads", str(args.threads)]
    ours_json = args.work / "classify.json"
    ours_cmd = [sys.executable, str(ROOT / "bench" / "bench_classify.py"), "--data", str(args.data),
                "--max-time", str(args.classify_minutes), "--threads", str(args.threads),
                "--out-dir", str(args.work / "classify-ckpt"), "--out-json", str(ours_json)]
    for rep in range(args.repeats):   # fastText, rnncli, fastText: rnncli's run is the long one, done once
        child = run_child(fast_cmd, args.work / f"fasttext-r{rep}.log", args.threads)
        runs["fasttext"].append({**last_json(child["stdout"]), "peak_rss_mib": child["peak_rss_mib"],
                                 "wall_seconds": child["wall_seconds"]})
        if rep == 0:
            child = run_child(ours_cmd, args.work / "classify.log", args.threads)
            result = json.loads(ours_json.read_text(encoding="utf-8"))
            runs["rnncli"].append({"dev_accuracy": result["dev_accuracy"], "train_seconds": result["train_seconds"],
                                   "classify_sentences_per_s": result["classify_sentences_per_s"],
                                   "classify_command_wall_s": result["classify_command_wall_s"],
                                   "steps": result["steps"], "stop_reason": result["stop_reason"],
                                   "peak_rss_mib": child["peak_rss_mib"], "wall_seconds": child["wall_seconds"]})
    return runs


# ---- the table -----------------------------------------------------------------------------
def med(runs: list[dict], *path: str) -> float:
    values = []
    for run in runs:
        for key in path:
            run = run[key]
        values.append(run)
    return statistics.median(values)


def each(runs: list[dict], *path: str, fmt: str = "{:,.0f}") -> str:
    values = []
    for run in runs:
        for key in path:
            run = run[key]
        values.append(fmt.format(run))
    return " / ".join(values)


def rows(result: dict) -> list[tuple[str, str, str, str]]:
    """(figure, rnncli, peer, ratio rnncli/peer) rows; medians over repeats, each run in brackets."""
    out = []

    def add(name, ours, peer, path, fmt="{:,.0f}", higher=True, points=False):
        a, b = med(ours, *path), med(peer, *path)
        ratio = a / b if b else float("nan")
        compared = f"{a - b:+.2f} points" if points else f"{ratio:.2f}x" + ("" if higher else " (lower is better)")
        out.append((name, f"{fmt.format(a)} ({each(ours, *path, fmt=fmt)})",
                    f"{fmt.format(b)} ({each(peer, *path, fmt=fmt)})", compared))

    if "translation" in result:
        t = result["translation"]
        ours, peer = t["rnncli"], t["onmt"]
        add("MT training tgt tokens/s, steps 10-100", ours, peer, ("tgt_tokens_per_s_10_100",))
        add(f"MT training tgt tokens/s, steps 10-{result['steps']}", ours, peer, ("tgt_tokens_per_s_10_last",))
        if all("probe" in r for r in ours):
            add("MT training tgt tokens/s: rnncli's 60-step probe* against OpenNMT-py steps 10-100",
                [r["probe"] for r in ours], [{"tgt_tokens_per_s": r["tgt_tokens_per_s_10_100"]} for r in peer],
                ("tgt_tokens_per_s",))
        add("MT target tokens per batch", ours, peer, ("tgt_tokens_per_step",))
        add(f"beam-5 sentences/s on val (step-{result['steps']} models)", ours, peer, ("decode", "sentences_per_s"))
        add("beam-5 output pieces per sentence", ours, peer, ("decode", "pieces_per_sentence"), "{:.1f}")
        add("val BLEU (beam 5)", ours, peer, ("decode", "val_bleu"), "{:.2f}", points=True)
        add("peak RSS training, MiB", ours, peer, ("peak_rss_mib",), higher=False)
        add("peak RSS decoding, MiB", ours, peer, ("decode", "peak_rss_mib"), higher=False)
        if "joeynmt" in t:
            joey = t["joeynmt"]
            add("JoeyNMT: MT training tgt tokens/s, steps 10-100", ours, joey, ("tgt_tokens_per_s_10_100",))
            add(f"JoeyNMT: beam-5 sentences/s on val (step-{result['steps']} models)", ours, joey,
                ("decode", "sentences_per_s"))
            add("JoeyNMT: beam-5 output pieces per sentence", ours, joey, ("decode", "pieces_per_sentence"), "{:.1f}")
            add("JoeyNMT: val BLEU (beam 5)", ours, joey, ("decode", "val_bleu"), "{:.2f}", points=True)
            add("JoeyNMT: peak RSS training, MiB", ours, joey, ("peak_rss_mib",), higher=False)
    if "classification" in result:
        c = result["classification"]
        ours, peer = c["rnncli"], c["fasttext"]
        add("SST-2 dev accuracy, %", [{"a": r["dev_accuracy"] * 100} for r in ours],
            [{"a": r["dev_accuracy"] * 100} for r in peer], ("a",), "{:.2f}", points=True)
        add("SST-2 training seconds", ours, peer, ("train_seconds",), "{:,.1f}", higher=False)
        add("SST-2 classified sentences/s (dev, model loaded)", ours, peer, ("classify_sentences_per_s",))
        add("SST-2 peak RSS, MiB", ours, peer, ("peak_rss_mib",), higher=False)
    return out


def render(result: dict) -> str:
    where = result.get("device", "cpu") + (f" ({result['device_name']})" if result.get("device_name") else "")
    lines = [f"Peers in the same run, {result['date']}, {where}, training in {result.get('precision', 'fp32')}, "
             f"{result['threads']} threads, load average at start "
             f"{result['load_start']}, at end {result['load_end']}",
             "", "| figure | rnncli | peer | rnncli / peer |", "|---|---|---|---|"]
    peers = {"translation": "OpenNMT-py 3.5.1" + (" (JoeyNMT 2.3 where named)" if "joeynmt" in
                                                  result.get("translation", {}) else ""),
             "classification": "fastText 0.9.2"}
    for name, ours, peer, ratio in rows(result):
        lines.append(f"| {name} | {ours} | {peer} | {ratio} |")
    lines.append("")
    lines.append("peer: " + ", ".join(v + " (" + k + ")" for k, v in peers.items() if k in result)
                 + "; medians, each run in brackets")
    if "translation" in result and all("probe" in r for r in result["translation"]["rnncli"]):
        lines.append("* `bench/measure_translate_speed.py --steps 60 --encoder-hidden 128` (its own tokenizer "
                     "and loop), run right after each rnncli training")
    return "\n".join(lines)


def device_name(device: str) -> str | None:
    if device != "cuda":
        return None
    import torch

    return f"{torch.cuda.get_device_name()}, torch {torch.__version__}"


def freeze(venv: Path) -> list[str] | None:
    """The peers' package versions, as setup.sh recorded them."""
    path = venv / "peers-freeze.txt"
    return path.read_text(encoding="utf-8").split() if path.exists() else None


def main() -> None:
    args = parse_args()
    if not args.onmt_python.exists():
        raise SystemExit(f"run_peers: no {args.onmt_python}; run bash bench/peers/setup.sh first")
    args.work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    result = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "threads": args.threads,
              "steps": args.steps, "repeats": args.repeats,
              "device": args.device, "device_name": device_name(args.device), "precision": args.precision, "onmt_input_feed": args.onmt_input_feed,
              "classify_minutes": args.classify_minutes, "command": " ".join(sys.argv),
              "load_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
              "peers": freeze(args.peers_venv), "peers_joeynmt": freeze(Path(f"{args.peers_venv}-joey"))
              if args.joeynmt else None}
    phases = []
    if not args.skip_mt:
        phases.append(("translation", translation))
    if not args.skip_classify:
        phases.append(("classification", classification))
    if args.joeynmt and not args.skip_mt:
        phases.append(("joeynmt", joeynmt))
    for name, phase in phases:   # the JSON and the table are rewritten after every phase
        if name == "joeynmt":   # optional: a failure here keeps the figures above
            try:
                result["translation"]["joeynmt"] = phase(args)
            except SystemExit as exc:
                result["joeynmt_error"] = str(exc)
                print(f"JoeyNMT left out: {exc}", file=sys.stderr)
        else:
            result[name] = phase(args)
        result["load_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
        result["wall_seconds"] = time.perf_counter() - started
        result["table"] = render(result)
        args.out_json.parent.mkdir(parents=True, exist_ok=True)
        args.out_json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"{name} done; wrote {args.out_json}", file=sys.stderr, flush=True)
    print(result["table"])


if __name__ == "__main__":
    main()
