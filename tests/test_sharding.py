"""torchrun: inference sharded over two gloo processes writes what one process writes, and
training runs on two "nodes" of the loopback address (issue 13)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import rnncli
from conftest import DATA, ROOT

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sharding")
    rnncli.train("classify", train=DATA / "classify/train.tsv", valid=DATA / "classify/valid.tsv",
                 out=root / "cls", hidden=16, embed=16, vocab_size=200, max_steps=3)
    rnncli.train("tag", train=DATA / "tag/train.iob1.conll", valid=DATA / "tag/valid.iob1.conll",
                 out=root / "tag", hidden=16, embed=16, char_features=8, max_steps=3)
    rnncli.train("translate", train_src=DATA / "translate/train.en", train_tgt=DATA / "translate/train.de",
                 valid_src=DATA / "translate/valid.en", valid_tgt=DATA / "translate/valid.de",
                 out=root / "mt", hidden=16, embed=16, vocab_size=300, max_steps=3)
    return {"cls": root / "cls", "tag": root / "tag", "mt": root / "mt"}


def torchrun(*args, nproc: int = 2, extra: tuple[str, ...] = ("--standalone",)) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", *extra, "--nproc-per-node", str(nproc),
               "-m", "rnncli", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, env=ENV, cwd=ROOT)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_translate_over_two_ranks_writes_the_one_process_file(cli, models, tmp_path):
    lines = (DATA / "translate/valid.en").read_text().splitlines()
    source = tmp_path / "in.en"
    source.write_text("\n".join((lines * 15)[:2100]) + "\n")      # two chunks of a file: one per rank
    alone = cli("translate", models["mt"], source, "--device", "cpu")
    assert alone.code == 0, alone.err
    proc = torchrun("translate", models["mt"], source, "-o", tmp_path / "out.de", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "out.de").read_text() == alone.out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.en", "out.de"]


def test_tag_conll_over_two_ranks_equals_one_process(cli, models, tmp_path):
    source = tmp_path / "in.conll"
    source.write_text("-DOCSTART- -X- O\n\nAnna NNP\nHolm NNP\n\n\nBram NNP\nran VBD\n\n" * 9)
    args = ["tag", models["tag"], source, "--input-format", "conll", "--batch-size", "4", "--device", "cpu"]
    alone = cli(*args)
    proc = torchrun(*args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout == alone.out and alone.out


def test_classify_many_tsv_files_over_two_ranks_equal_one_process(cli, models, tmp_path):
    rows = (DATA / "classify/valid.tsv").read_text().splitlines()
    inputs = []
    for name, count in (("b.tsv", 700), ("a.tsv", 300)):
        path = tmp_path / name
        path.write_text("\n".join([rows[0], *(rows[1:] * 40)[:count]]) + "\n")   # header, then rows
        inputs.append(path)
    args = ["classify", models["cls"], *inputs, "--input-format", "tsv", "--batch-size", "16", "--device", "cpu"]
    assert cli(*args, "--output-dir", tmp_path / "one").code == 0
    proc = torchrun(*args, "--output-dir", tmp_path / "two")
    assert proc.returncode == 0, proc.stderr[-3000:]
    for path in inputs:
        assert (tmp_path / "two" / path.name).read_text() == (tmp_path / "one" / path.name).read_text()
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["a.tsv", "b.tsv"]


def test_training_on_two_nodes_of_the_loopback_address(tmp_path):
    port = free_port()
    procs = []
    for node in (0, 1):
        command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--node-rank", str(node),
                   "--nproc-per-node", "1", "--master-addr", "127.0.0.1", "--master-port", str(port),
                   "-m", "rnncli", "train", "classify", "--train", str(DATA / "classify/train.tsv"),
                   "--valid", str(DATA / "classify/valid.tsv"), "--out", str(tmp_path / f"node{node}"),
                   "--hidden", "16", "--embed", "16", "--vocab-size", "200", "--max-steps", "4",
                   "--eval-every", "2", "--device", "cpu", "--quiet"]
        procs.append(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                      env=ENV, cwd=ROOT))
    results = [proc.communicate(timeout=180) for proc in procs]
    for proc, (_, err) in zip(procs, results):
        assert proc.returncode == 0, err[-3000:]
    assert (tmp_path / "node0/model.safetensors").is_file()        # rank 0 writes the checkpoint
    assert not (tmp_path / "node1/model.safetensors").exists()
    assert [r["step"] for r in rnncli.checkpoint.read_metrics(tmp_path / "node0")] == [2, 4]
