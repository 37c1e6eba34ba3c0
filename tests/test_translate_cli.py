"""`rnncli train translate`, `translate`, `eval CKPT SRC REF`, `eval --hyp --ref` end to end."""

import json

import pytest

from conftest import DATA, run_subprocess

SAMPLE = DATA / "translate"
TINY = ["--vocab-size", "120", "--hidden", "24", "--embed", "16", "--batch-size", "32", "--quiet"]


def train_args(out, *extra):
    return ["train", "translate", "--train-src", SAMPLE / "train.en", "--train-tgt", SAMPLE / "train.de",
            "--valid-src", SAMPLE / "test.en", "--valid-tgt", SAMPLE / "test.de", "--out", out,
            "--max-steps", "30", "--eval-every", "15", "--seed", "2", *TINY, *extra]


@pytest.fixture(scope="session")
def trained_translate(tmp_path_factory):
    from rnncli.cli.app import run

    out = tmp_path_factory.mktemp("translate") / "ckpt"
    assert run([str(a) for a in train_args(out, "--attention", "bahdanau")], False) == 0
    return out


@pytest.fixture
def source_file(tmp_path):
    lines = (SAMPLE / "test.en").read_text(encoding="utf-8").splitlines()[:12]
    lines.insert(3, "")  # an empty line in, an empty line out
    path = tmp_path / "src.en"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, lines


def test_train_writes_a_translation_checkpoint(trained_translate):
    config = json.loads((trained_translate / "config.json").read_text())
    assert config["task"] == "translate" and config["progress"]["steps"] == 30
    assert config["progress"]["best"]["metric"] == "bleu"
    assert config["model"]["attention"] == "bahdanau" and config["model"]["bidirectional"]
    assert (trained_translate / "tokenizer" / "spm.model").is_file()
    assert set(config["data"]) == {"train_src", "train_tgt", "valid_src", "valid_tgt"}


def test_separate_vocabularies_and_mismatched_files(cli, tmp_path):
    out = tmp_path / "sep"
    result = cli(*train_args(out, "--separate-vocab", "--max-steps", "4", "--eval-every", "4",
                            "--attention", "luong-dot", "--cell", "gru", "--encoder-hidden", "10"))
    assert result.code == 0, result.err
    model = json.loads((out / "config.json").read_text())["model"]
    assert model["encoder_hidden"] == 10 and model["hidden"] == 24   # 2 x 10 encoder outputs
    assert (out / "tokenizer" / "src" / "spm.model").is_file() and (out / "tokenizer" / "tgt" / "spm.model").is_file()
    translated = cli("translate", out, SAMPLE / "test.en", "--beam", "2")
    assert translated.code == 0 and len(translated.out.splitlines()) == 100
    short = tmp_path / "short.de"
    short.write_text("eins\nzwei\n", encoding="utf-8")
    bad = cli("train", "translate", "--train-src", SAMPLE / "train.en", "--train-tgt", short,
              "--valid-src", SAMPLE / "test.en", "--valid-tgt", SAMPLE / "test.de", "--out", tmp_path / "x", *TINY)
    assert bad.code == 2 and "has 2,000 lines" in bad.err and "has 2 lines" in bad.err


def test_translate_keeps_line_count_and_order(cli, trained_translate, source_file):
    path, lines = source_file
    whole = cli("translate", trained_translate, path, "--beam", "3")
    assert whole.code == 0, whole.err
    outputs = whole.out.split("\n")[:-1]
    assert len(outputs) == len(lines) and outputs[3] == ""
    for index in (0, 5, 11):
        one = path.parent / f"one{index}.en"
        one.write_text(lines[index] + "\n", encoding="utf-8")
        assert cli("translate", trained_translate, one, "--beam", "3").out == outputs[index] + "\n"


def test_stdin_streaming_in_small_batches_matches_file(cli, trained_translate, source_file):
    path, lines = source_file
    from_file = cli("translate", trained_translate, path, "--beam", "1").out
    result = run_subprocess("translate", trained_translate, "-", "--beam", "1", "--batch-size", "2",
                            input="\n".join(lines) + "\n")
    assert result.code == 0 and result.err == "" and result.out == from_file


def test_jsonl_n_best_and_output_file(cli, trained_translate, source_file, tmp_path):
    path, lines = source_file
    out = tmp_path / "out.jsonl"
    result = cli("translate", trained_translate, path, "--beam", "4", "--n-best", "3",
                 "--output-format", "jsonl", "-o", out)
    assert result.code == 0 and result.out == ""
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == len(lines) and records[3] == {"translation": "", "n_best": []}
    for record in records[:3]:
        scores = [h["score"] for h in record["n_best"]]
        assert len(scores) == 3 and scores == sorted(scores, reverse=True)
        assert record["translation"] == record["n_best"][0]["text"]
    assert cli("translate", trained_translate, path, "--n-best", "2").code == 2
    assert cli("translate", trained_translate, path, "--beam", "2", "--n-best", "3",
               "--output-format", "jsonl").code == 2


def test_attention_out_and_heatmap(cli, trained_translate, source_file, tmp_path):
    path, lines = source_file
    attn = tmp_path / "attn.jsonl"
    plain = cli("translate", trained_translate, path, "--beam", "2")
    result = cli("translate", trained_translate, path, "--beam", "2", "--attention-out", attn, "--show-attention")
    assert result.code == 0 and result.out == plain.out
    assert "line 1" in result.err and "</s>" in result.err
    records = [json.loads(line) for line in attn.read_text(encoding="utf-8").splitlines()]
    assert len(records) == len(lines) - 1 and [r["line"] for r in records][:4] == [1, 2, 3, 5]
    for record in records:
        assert len(record["weights"]) == len(record["target"])
        assert all(len(row) == len(record["source"]) for row in record["weights"])
        assert all(abs(sum(row) - 1) < 1e-2 for row in record["weights"])


def test_eval_checkpoint_matches_eval_of_its_output(cli, trained_translate, tmp_path):
    src, ref = SAMPLE / "test.en", SAMPLE / "test.de"
    report = cli("eval", trained_translate, src, ref, "--beam", "3", "--json")
    assert report.code == 0, report.err
    scores = json.loads(report.out)
    assert {"bleu", "chrf", "ter", "bleu_ci", "signatures"} <= set(scores)
    hyp = tmp_path / "hyp.de"
    hyp.write_text(cli("translate", trained_translate, src, "--beam", "3").out, encoding="utf-8")
    files = json.loads(cli("eval", "--hyp", hyp, "--ref", ref, "--json").out)
    for key in ("bleu", "chrf", "ter", "bleu_ci"):
        assert files[key] == scores[key]
    table = cli("eval", "--hyp", hyp, "--ref", ref)
    assert table.code == 0 and "BLEU" in table.out and "chrF" in table.out and "TER" in table.out
    gate = cli("eval", trained_translate, src, ref, "--beam", "1", "--fail-under", "bleu=101")
    assert gate.code == 3 and "bleu" in gate.err


def test_eval_files_rejects_mismatched_counts(cli, tmp_path):
    hyp = tmp_path / "hyp.txt"
    hyp.write_text("a\nb\nc\n", encoding="utf-8")
    result = cli("eval", "--hyp", hyp, "--ref", SAMPLE / "test.de")
    assert result.code == 2 and "has 3 lines" in result.err and "has 100 lines" in result.err
    assert cli("eval", "--hyp", SAMPLE / "test.de", "--ref", SAMPLE / "test.de", "--json").code == 0


def test_errors_are_one_line_with_exit_codes(tmp_path):
    missing = run_subprocess("translate", tmp_path / "nope", "-", input="hello\n")
    assert missing.code == 2 and missing.out == "" and missing.err.count("\n") == 1
    assert "rnncli: error:" in missing.err
    usage = run_subprocess("eval", tmp_path / "nope")
    assert usage.code == 2 and "Traceback" not in usage.err


def test_training_reports_skipped_and_dropped_pairs_and_resumes(cli, tmp_path):
    en = (SAMPLE / "train.en").read_text(encoding="utf-8").splitlines()[:200]
    de = (SAMPLE / "train.de").read_text(encoding="utf-8").splitlines()[:200]
    en[5], de[9] = "", "   "
    en[20] = " ".join(["dog"] * 80)
    src, tgt = tmp_path / "t.en", tmp_path / "t.de"
    src.write_text("\n".join(en) + "\n", encoding="utf-8")
    tgt.write_text("\n".join(de) + "\n", encoding="utf-8")
    out = tmp_path / "ckpt"
    args = ["train", "translate", "--train-src", src, "--train-tgt", tgt, "--valid-src", SAMPLE / "test.en",
            "--valid-tgt", SAMPLE / "test.de", "--out", out, "--max-len", "40", "--eval-every", "3",
            *[a for a in TINY if a != "--quiet"]]
    first = cli(*args, "--max-steps", "3")
    assert first.code == 0, first.err
    assert "skipped 2 training pair(s) with an empty side" in first.err
    assert "dropped 1 training pair(s) longer than --max-len 40" in first.err
    resumed = cli(*args, "--max-steps", "6", "--resume")
    assert resumed.code == 0, resumed.err
    assert json.loads((out / "config.json").read_text())["progress"]["steps"] == 6
    changed = cli(*args, "--max-steps", "8", "--resume", "--attention", "luong-dot")
    assert changed.code == 2 and "--attention" in changed.err


@pytest.mark.skipif(not __import__("rnncli.core.quantized", fromlist=["x"]).int8_available(),
                    reason="this torch build has no fbgemm int8 kernels")
def test_int8_translate_and_eval_end_to_end(cli, trained_translate, source_file):
    path, lines = source_file
    int8 = cli("translate", trained_translate, path, "--beam", "3", "--device", "cpu", "--int8")
    assert int8.code == 0, int8.err
    outputs = int8.out.split("\n")[:-1]
    assert len(outputs) == len(lines) and outputs[3] == ""
    report = json.loads(cli("eval", trained_translate, SAMPLE / "test.en", SAMPLE / "test.de", "--beam", "3",
                            "--int8", "--device", "cpu", "--json").out)
    assert report["int8"] is True and 0 <= report["bleu"] <= 100


def test_int8_linear_is_close_to_the_fp32_layer():
    import torch

    from rnncli.core.quantized import Int8Linear, int8_available

    if not int8_available():
        pytest.skip("this torch build has no fbgemm int8 kernels")
    torch.manual_seed(0)
    layer = torch.nn.Linear(64, 300)
    x = torch.randn(7, 5, 64)
    expected = layer(x).detach()
    got = Int8Linear.from_linear(layer)(x)
    assert got.shape == expected.shape
    assert (got - expected).abs().max() < 0.03 * expected.abs().max()


def test_shortlist_translate_and_eval_end_to_end(cli, trained_translate, source_file, tmp_path):
    import shutil

    from rnncli.decoding.shortlist import LEXICON_FILE
    from rnncli.tasks.translate import write_lexicon

    path, lines = source_file
    assert (trained_translate / LEXICON_FILE).is_file()
    short = cli("translate", trained_translate, path, "--beam", "3", "--shortlist")
    assert short.code == 0, short.err
    outputs = short.out.split("\n")[:-1]
    assert len(outputs) == len(lines) and outputs[3] == "" and all(outputs[:3])
    report = json.loads(cli("eval", trained_translate, SAMPLE / "test.en", SAMPLE / "test.de", "--beam", "3",
                            "--shortlist", "--json").out)
    assert report["shortlist"] is True and 0 <= report["bleu"] <= 100
    # A checkpoint without the file: a one-line error; write_lexicon rebuilds the same file.
    old = tmp_path / "old"
    shutil.copytree(trained_translate, old)
    (old / LEXICON_FILE).unlink()
    refused = cli("translate", old, path, "--shortlist")
    assert refused.code == 2 and LEXICON_FILE in refused.err and len(refused.err.strip().splitlines()) == 1
    write_lexicon(old)
    assert (old / LEXICON_FILE).read_bytes() == (trained_translate / LEXICON_FILE).read_bytes()
