"""CUDA code paths: mixed-precision training through the CLI, cuDNN against the CPU kernels,
translation training and decoding on the GPU, exact resume, and NCCL.

Skipped without a CUDA device (CI has none); run them on a GPU machine with
`python -m pytest -q tests/test_gpu.py`. Parity checks compare true fp32 on both sides:
TF32 is switched off for them (see `fp32_only`).
"""

import copy
import json
import math
import os
import socket
import subprocess
import sys
from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F

from conftest import DATA, ROOT, StopAtStep, TINY_LM, run_subprocess
from test_translate_core import padded_batch, tiny_model
from rnncli.checkpoint import CheckpointWriter, load_trainer_state, read_metrics, write_config
from rnncli.config import DecodeSettings, TrainConfig
from rnncli.core.rnn import RNNStack
from rnncli.decoding.beam import beam_search
from rnncli.decoding.greedy import EOS_ID, greedy_search
from rnncli.errors import Interrupted
from rnncli.models.lm import LanguageModel, LMConfig
from rnncli.runtime import DistEnv, rnn_compute_dtype
from rnncli.tasks.lm import lm_loss, window_batches
from rnncli.training import Started, TrainJob, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

CUDA = torch.device("cuda")
TRANSLATE = DATA / "translate"
TINY_TRANSLATE = ["--vocab-size", "120", "--hidden", "24", "--embed", "16", "--batch-size", "32", "--quiet"]


@pytest.fixture
def fp32_only():
    """cuDNN may run fp32 RNNs on TF32 tensor cores (10-bit mantissa, errors ~1e-3); parity
    with the CPU is only meaningful in true fp32."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def lm_args(train, valid, out, *extra, steps=30, eval_every=15):
    return ["train", "lm", "--train", train, "--valid", valid, "--out", out, "--max-steps", str(steps),
            "--eval-every", str(eval_every), "--seed", "3", *TINY_LM, *extra]


# ---- language model through the CLI, mixed precision -------------------------------------
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_amp_trained_lm_evaluates_and_generates_on_cuda_and_cpu(cli, lm_text, tmp_path, precision):
    train, valid = lm_text
    out = tmp_path / precision
    result = cli(*lm_args(train, valid, out, "--device", "cuda", "--precision", precision))
    assert result.code == 0, result.err
    records = read_metrics(out)
    assert [r["step"] for r in records] == [15, 30]
    assert all(math.isfinite(r["nats_per_char"]) for r in records)
    state = load_trainer_state(out)
    assert state["loop"]["skipped"] == 0
    assert all(torch.isfinite(t).all() for t in state["model"].values())
    # fp16 needs a loss scale, and so does bf16 while cuDNN runs the RNN itself in fp16.
    if precision == "fp16" or rnn_compute_dtype(CUDA, torch.bfloat16) == torch.float16:
        assert math.isfinite(state["scaler"]["scale"]) and state["scaler"]["scale"] > 0
    vocab = state["model"]["output.weight"].shape[0]
    assert records[-1]["nats_per_token"] < math.log(vocab)  # it learned something
    best = json.loads((out / "config.json").read_text())["progress"]["best"]["value"]

    on_cuda = cli("eval", out, valid, "--json", "--device", "cuda")
    assert on_cuda.code == 0, on_cuda.err
    assert json.loads(on_cuda.out)["nats_per_char"] == pytest.approx(best, rel=1e-5)
    on_cpu = cli("eval", out, valid, "--json", "--device", "cpu")
    assert on_cpu.code == 0, on_cpu.err
    assert json.loads(on_cpu.out)["nats_per_char"] == pytest.approx(best, rel=1e-3)

    sampled = [cli("generate", out, "--prompt", "Ada ", "--max-tokens", "30", "--seed", "7", "--device", "cuda")
               for _ in range(2)]
    assert sampled[0].code == 0 and sampled[0].out == sampled[1].out, sampled[0].err
    cpu_sample = cli("generate", out, "--prompt", "Ada ", "--max-tokens", "30", "--seed", "7", "--device", "cpu")
    assert cpu_sample.code == 0 and cpu_sample.out.startswith("Ada ")


def test_greedy_generation_is_the_same_on_cuda_and_cpu(cli, lm_text, tmp_path, fp32_only):
    train, valid = lm_text
    out = tmp_path / "lm"
    trained = cli(*lm_args(train, valid, out, "--device", "cuda"))
    assert trained.code == 0, trained.err
    greedy = {device: cli("generate", out, "--prompt", "The ", "--temperature", "0", "--max-tokens", "20",
                          "--device", device).out for device in ("cuda", "cpu")}
    assert greedy["cuda"] == greedy["cpu"] and len(greedy["cuda"]) > 20
    lines = run_subprocess("generate", out, "--prompt", "-", "--max-tokens", "20", "--seed", "1",
                           "--device", "cuda", input="Ada\n\nBram went\n")
    assert lines.code == 0, lines.err
    assert lines.out.count("\n") == 3 and lines.out.startswith("Ada")


# ---- cuDNN against the CPU kernels ---------------------------------------------------------
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn-tanh"])
@pytest.mark.parametrize("layer_norm", [False, True])
def test_cudnn_stack_matches_cpu_on_packed_bidirectional_batches(cell, layer_norm, fp32_only):
    torch.manual_seed(0)
    cpu = RNNStack(cell, 6, 8, num_layers=2, bidirectional=True, layer_norm=layer_norm)
    gpu = copy.deepcopy(cpu).to(CUDA)
    x = torch.randn(4, 9, 6)
    lengths = torch.tensor([9, 5, 1, 7])   # padded rows: the packed path
    weights = torch.randn(4, 9, 16)        # a loss that reaches every output position
    results = []
    for stack, device in ((cpu, "cpu"), (gpu, CUDA)):
        out, state = stack(x.to(device), lengths.to(device))
        h = state[0] if isinstance(state, tuple) else state
        (out * weights.to(device)).sum().add(h.sum()).backward()
        grads = [p.grad.cpu() for p in stack.parameters()]
        results.append((out.detach().cpu(), h.detach().cpu(), grads))
    (out_c, h_c, g_c), (out_g, h_g, g_g) = results
    assert torch.allclose(out_c, out_g, atol=1e-4)
    assert torch.allclose(h_c, h_g, atol=1e-4)
    assert (out_g[2, 1:] == 0).all()       # padding stays zero on the GPU too
    for a, b in zip(g_c, g_g):
        assert torch.allclose(a, b, atol=1e-4, rtol=1e-4)


def test_cudnn_runs_under_autocast_in_every_precision():
    """The fused RNN accepts autocast inputs; the output dtype tells which kernel precision ran."""
    torch.manual_seed(0)
    stack = RNNStack("lstm", 6, 8, num_layers=2, bidirectional=True).to(CUDA)
    x, lengths = torch.randn(3, 5, 6, device=CUDA), torch.tensor([5, 2, 4])
    reference, _ = stack(x, lengths)
    for dtype in (torch.float16, torch.bfloat16):
        with torch.autocast("cuda", dtype=dtype):
            out, _ = stack(x, lengths)
        assert out.dtype in (torch.float16, torch.bfloat16)
        assert torch.allclose(out.float(), reference, atol=3e-2)


# ---- translation model on CUDA -------------------------------------------------------------
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_translation_step_under_autocast(precision):
    from rnncli.tasks.translate import make_batch, translation_loss

    model = tiny_model().train()
    g = torch.Generator().manual_seed(3)
    src = [torch.randint(4, 24, (n,), generator=g).tolist() + [EOS_ID] for n in (7, 4, 2, 5)]
    tgt = [torch.randint(4, 24, (n,), generator=g).tolist() for n in (6, 5, 1, 3)]
    batch = {k: v.to(CUDA) for k, v in make_batch(src, tgt).items()}
    def loss_fn(model, batch):
        return translation_loss(model, batch, 0.1)
    model.to(CUDA)
    with torch.no_grad():
        reference, units = loss_fn(model, batch)
    dtype = torch.float16 if precision == "fp16" else torch.bfloat16
    scaler = torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    with torch.autocast("cuda", dtype=dtype):
        loss, _ = loss_fn(model, batch)
    assert loss.dtype == torch.float32 and units == 19   # 15 target tokens + 4 </s>
    assert float(loss.detach()) == pytest.approx(float(reference), rel=3e-2)
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    before = [p.detach().clone() for p in model.parameters()]
    scaler.step(optimizer)
    scaler.update()
    assert any(not torch.equal(a, p) for a, p in zip(before, model.parameters()))


@pytest.mark.parametrize("attention", ["bahdanau", "luong-dot", "luong-general"])
@pytest.mark.parametrize("cell,layers", [("lstm", 2), ("gru", 1)])
def test_greedy_and_beam_on_cuda_equal_cpu(attention, cell, layers, fp32_only):
    cpu = tiny_model(seed=11, attention=attention, cell=cell, layers=layers)
    gpu = copy.deepcopy(cpu).to(CUDA)
    src, lengths = padded_batch([8, 6, 5, 3, 1], seed=12)
    with torch.inference_mode():
        for search, settings in ((greedy_search, DecodeSettings(max_extra=4, length_penalty=0.6)),
                                 (beam_search, DecodeSettings(beam=4, n_best=3, max_extra=4, length_penalty=0.6))):
            on_cpu = search(cpu, src, lengths, settings, return_attention=True)
            on_gpu = search(gpu, src.to(CUDA), lengths.to(CUDA), settings, return_attention=True)
            for hyps_c, hyps_g in zip(on_cpu, on_gpu):
                assert [h.tokens for h in hyps_c] == [h.tokens for h in hyps_g]
                assert [h.score for h in hyps_c] == pytest.approx([h.score for h in hyps_g], abs=1e-4)
                for a, b in zip(hyps_c, hyps_g):
                    assert b.attention.device.type == "cpu"
                    assert torch.allclose(a.attention, b.attention, atol=1e-4)


def test_translate_cli_trains_on_cuda_and_decodes_like_cpu(cli, tmp_path, fp32_only):
    out = tmp_path / "mt"
    result = cli("train", "translate", "--train-src", TRANSLATE / "train.en", "--train-tgt", TRANSLATE / "train.de",
                 "--valid-src", TRANSLATE / "test.en", "--valid-tgt", TRANSLATE / "test.de", "--out", out,
                 "--max-steps", "30", "--eval-every", "15", "--seed", "2", "--device", "cuda", *TINY_TRANSLATE)
    assert result.code == 0, result.err
    assert load_trainer_state(out)["loop"]["skipped"] == 0
    source = tmp_path / "src.en"
    source.write_text("\n".join((TRANSLATE / "test.en").read_text(encoding="utf-8").splitlines()[:16]) + "\n",
                      encoding="utf-8")
    outputs = {device: cli("translate", out, source, "--beam", "3", "--device", device) for device in ("cuda", "cpu")}
    assert outputs["cuda"].code == 0, outputs["cuda"].err
    assert outputs["cuda"].out == outputs["cpu"].out and len(outputs["cuda"].out.splitlines()) == 16
    report = cli("eval", out, TRANSLATE / "test.en", TRANSLATE / "test.de", "--beam", "2", "--json", "--device", "cuda")
    assert report.code == 0, report.err
    assert 0.0 <= json.loads(report.out)["bleu"] <= 100.0


# ---- exact resume on CUDA ------------------------------------------------------------------
STREAM = torch.randint(4, 20, (2000,), generator=torch.Generator().manual_seed(0))


def make_job(layers=1, init_seed=0):
    torch.manual_seed(init_seed)
    model = LanguageModel(LMConfig(vocab_size=20, embed=8, hidden=16, layers=layers, dropout=0.3))

    def evaluate(model, device):
        ids = STREAM[:200].view(4, 50).to(device)
        logits, _ = model(ids[:, :-1])
        return {"score": float(F.cross_entropy(logits.reshape(-1, 20), ids[:, 1:].reshape(-1)))}

    return TrainJob(model=model, loss=lm_loss, metric="score", maximize=False, evaluate=evaluate,
                    epoch_batches=lambda epoch: window_batches(STREAM, 16, 8, 0, epoch))


def fresh_writer(tmp_path, name):
    directory = tmp_path / name
    directory.mkdir()
    write_config(directory, {"task": "toy"})
    return CheckpointWriter(directory, {"task": "toy"})


# Two layers put dropout inside the fused cuDNN kernel, which keeps a random state of its
# own: it must follow torch's CUDA generator for a resumed run to draw the same masks.
@pytest.mark.parametrize("precision,layers", [("fp32", 1), ("fp16", 1), ("bf16", 1), ("fp32", 2)])
def test_resume_on_cuda_is_bit_for_bit(tmp_path, precision, layers):
    config = TrainConfig(lr=1e-2, warmup=5, epochs=3, eval_every=7, device="cuda", precision=precision, seed=0)
    whole = fresh_writer(tmp_path, "whole")
    list(train(make_job(layers), config, whole))
    expected = load_trainer_state(whole.directory)

    parted = fresh_writer(tmp_path, "parted")
    job = make_job(layers)
    with pytest.raises(Interrupted):
        list(train(job, config, parted, stop=StopAtStep(job, 23)))
    halfway = load_trainer_state(parted.directory)
    assert halfway["loop"]["step"] == 23
    list(train(make_job(layers, init_seed=99), config, CheckpointWriter(parted.directory, {"task": "toy"}),
               resume_state=halfway))  # other init: the weights must come from the saved state
    got = load_trainer_state(parted.directory)
    assert got["loop"]["step"] == expected["loop"]["step"]
    for key, tensor in expected["model"].items():
        assert torch.equal(tensor, got["model"][key]), key
    assert got["scaler"] == expected["scaler"]
    assert [r["score"] for r in whole.records] == [r["score"] for r in read_metrics(parted.directory)]


def test_cuda_trainer_state_resumes_on_cpu(cli, lm_text, tmp_path):
    """A run started on a GPU can be continued on a machine without one (--device may change)."""
    train_path, valid = lm_text
    out = tmp_path / "moved"
    first = cli(*lm_args(train_path, valid, out, "--device", "cuda", "--precision", "fp32", steps=10, eval_every=5))
    assert first.code == 0, first.err
    resumed = cli(*lm_args(train_path, valid, out, "--device", "cpu", "--resume", steps=15, eval_every=5))
    assert resumed.code == 0, resumed.err
    assert [r["step"] for r in read_metrics(out)] == [5, 10, 15]


# ---- NCCL ----------------------------------------------------------------------------------
def test_torchrun_one_process_on_cuda_trains_and_saves(cli, lm_text, tmp_path):
    train_path, valid = lm_text
    out = tmp_path / "torchrun"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "1",
               "-m", "rnncli", *map(str, lm_args(train_path, valid, out, "--device", "cuda"))]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=240, cwd=ROOT,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [r["step"] for r in read_metrics(out)] == [15, 30]
    result = cli("eval", out, valid, "--json", "--device", "cpu")
    assert result.code == 0, result.err


@dataclass(frozen=True)
class OneRankGroup(DistEnv):
    """A process group of one, taken through the multi-process code path (DDP, NCCL
    collectives): one GPU cannot hold two NCCL ranks."""

    @property
    def distributed(self) -> bool:
        return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_nccl_process_group_of_one_trains_with_ddp(tmp_path, monkeypatch):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    for name, value in {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port()), "RANK": "0",
                        "WORLD_SIZE": "1", "LOCAL_RANK": "0"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("rnncli.training.dist_env", lambda: OneRankGroup())
    job = make_job()
    seen = []

    def recording_loss(model, batch):
        seen.append(type(model))
        return lm_loss(model, batch)

    job.loss = recording_loss
    writer = fresh_writer(tmp_path, "nccl")
    config = TrainConfig(lr=1e-2, warmup=2, epochs=1, max_steps=6, eval_every=3, device="cuda", seed=0)
    events = list(train(job, config, writer))
    assert not dist.is_initialized()  # torn down at the end
    assert isinstance(events[0], Started) and events[0].device.startswith("cuda")
    assert seen and all(t is DistributedDataParallel for t in seen)
    state = load_trainer_state(writer.directory)
    assert state["loop"]["step"] == 6 and [r["step"] for r in writer.records] == [3, 6]
