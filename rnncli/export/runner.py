"""Run an artifact of `rnncli export` without rnncli: this file is copied into it.

Needs numpy, and torch (TorchScript artifacts) or onnxruntime (ONNX artifacts);
sentencepiece too when the model's tokenizer is unigram or bpe.

    import sys; sys.path.insert(0, "OUT"); import runner
    model = runner.load("OUT")
    model.classify(["a fine film"])          # classify: [(label, probability)]
    model.tag(["Anna visited Oslo ."])       # tag: [[tag, ...]] in the training data's scheme
    model.translate(["a sentence ."])        # translate: [text] (beam search, rnncli's defaults)
    model.generate("Once ", seed=1)          # lm: text sampled after the prompt

TorchScript artifacts hold the whole prediction, decoding included; for ONNX ones this
file runs the loops (Viterbi for tag, beam search for translate, sampling for lm) in numpy.
Batches are cut as rnncli cuts them (sorted by length, longest first).
"""

import json
import os
import sys

import numpy as np

# The runner's siblings in the artifact, found beside it (as the forecast runner finds its own).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rnncli_runner_text import BOS, DIGITS, EOS, PAD, UNK, Tokenizer, batches, pad  # noqa: E402


def topk(x, k):
    index = np.argsort(-x, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(x, index, axis=1), index


class Artifact:
    def __init__(self, directory, manifest):
        self.directory, self.manifest = directory, manifest
        self.onnx = manifest["format"] == "onnx"
        if self.onnx:
            import onnxruntime

            self.sessions = {name: onnxruntime.InferenceSession(os.path.join(directory, file),
                                                                providers=["CPUExecutionProvider"])
                             for name, file in manifest["files"]["graphs"].items()}
        else:
            import torch

            self.torch = torch
            self.module = torch.jit.load(os.path.join(directory, manifest["files"]["module"]))

    def tokenizer(self, name=None):
        path = os.path.join(self.directory, "tokenizer", *([name] if name else []))
        return Tokenizer(path)

    def graph(self, name, **inputs):
        return self.sessions[name].run(None, inputs)

    def script(self, *args):
        with self.torch.inference_mode():
            out = self.module(*[self.torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in args])
        return [o.numpy() for o in out] if isinstance(out, tuple) else out.numpy()


class Classifier(Artifact):
    def __init__(self, directory, manifest):
        super().__init__(directory, manifest)
        self.tok, self.labels = self.tokenizer(), manifest["labels"]
        self.max_length = manifest["preprocess"]["max_length"]

    def probabilities(self, texts, batch_size=256):
        """(N, C) label probabilities; a text is cut to the training length limit."""
        ids = [self.tok.encode(t)[: self.max_length] or [UNK] for t in texts]
        out = np.zeros((len(ids), len(self.labels)), dtype=np.float32)
        for group in batches([len(x) for x in ids], batch_size):
            x, n = pad([ids[i] for i in group])
            out[group] = self.graph("model", ids=x, lengths=n)[0] if self.onnx else self.script(x, n)
        return out

    def classify(self, texts, batch_size=256):
        probs = self.probabilities(texts, batch_size)
        return [(self.labels[int(p.argmax())], float(p.max())) for p in probs]


def viterbi(emissions, mask, start, trans, end):
    """Best label paths (B, T), 0 on padding (rnncli.core.crf.viterbi in numpy)."""
    batch, length, labels = emissions.shape
    keep = np.broadcast_to(np.arange(labels), (batch, labels))
    score = start + emissions[:, 0]
    pointers = []
    for t in range(1, length):
        total = score[:, :, None] + trans
        index, best = total.argmax(axis=1), total.max(axis=1)
        real = mask[:, t][:, None]
        score = np.where(real, best + emissions[:, t], score)
        pointers.append(np.where(real, index, keep))
    last = (score + end).argmax(axis=1)
    path = [last]
    for index in reversed(pointers):
        last = np.take_along_axis(index, last[:, None], axis=1)[:, 0]
        path.append(last)
    return np.stack(path[::-1], axis=1) * mask


def log_softmax(x, axis=-1):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


class Tagger(Artifact):
    def __init__(self, directory, manifest):
        super().__init__(directory, manifest)
        self.words, self.chars = self.tokenizer("words"), self.tokenizer("chars")
        self.labels, self.prep = manifest["labels"], manifest["preprocess"]
        if self.onnx:
            with open(os.path.join(directory, manifest["files"]["decoding"]), encoding="utf-8") as f:
                self.tables = {k: np.array(v, dtype=np.float32) for k, v in json.load(f).items()}

    def batch_inputs(self, sentences):
        """Word ids (digits -> 0, lowercased as in training), and each distinct word's chars."""
        norm = [[DIGITS.sub("0", w).lower() if self.prep["lowercase"] else DIGITS.sub("0", w) for w in s]
                for s in sentences]
        words, lengths = pad([[self.words.index.get(w, UNK) for w in s] for s in norm])
        types, rows = {"": 0}, [[0]]
        index = np.zeros_like(words)
        for b, sentence in enumerate(sentences):
            for t, word in enumerate(sentence):
                if word not in types:
                    types[word] = len(rows)
                    rows.append(self.chars.encode(word[: self.prep["max_word_chars"]]) or [UNK])
                index[b, t] = types[word]
        chars, char_lengths = pad(rows)
        return words, lengths, chars, char_lengths, index

    def decode(self, emissions, lengths, constrained):
        mask = np.arange(emissions.shape[1])[None, :] < lengths[:, None]
        t = self.tables
        if not self.prep["crf"]:
            emissions = log_softmax(emissions.astype(np.float32))
            if not constrained:
                return emissions.argmax(-1) * mask
        start, trans, end = t["start"], t["transitions"], t["end"]
        if constrained:
            start, trans, end = start + t["start_penalty"], trans + t["transitions_penalty"], end + t["end_penalty"]
        return viterbi(emissions.astype(np.float32), mask, start, trans, end)

    def tag_ids(self, sentences, batch_size=256, constrained=True):
        """Label ids per sentence (the model's own scheme) and each sentence's emissions."""
        ids, emissions = [[] for _ in sentences], [None for _ in sentences]
        real = [i for i, s in enumerate(sentences) if s]
        for group in batches([len(sentences[i]) for i in real], batch_size):
            group = [real[g] for g in group]
            inputs = self.batch_inputs([sentences[i] for i in group])
            if self.onnx:
                names = ("words", "lengths", "chars", "char_lengths", "char_index")
                scores = self.graph("model", **dict(zip(names, inputs)))[0]
                tags = self.decode(scores, inputs[1], constrained)
            else:
                tags, scores = self.script(*inputs, constrained)
            for row, i in enumerate(group):
                ids[i] = tags[row, : len(sentences[i])].tolist()
                emissions[i] = scores[row, : len(sentences[i])]
        return ids, emissions

    def tag(self, lines, batch_size=256):
        sentences = [line.split() if isinstance(line, str) else list(line) for line in lines]
        ids, _ = self.tag_ids(sentences, batch_size)
        return [to_scheme([self.labels[i] for i in seq], self.manifest["scheme"]) for seq in ids]


def to_scheme(tags, scheme):
    """BIOES tags (the model's) in the training data's scheme: iob2, iob1, bioes or none."""
    if scheme in ("bioes", "none"):
        return tags
    out = []
    for t, tag in enumerate(tags):
        kind, _, name = tag.partition("-")
        if kind in ("B", "S"):
            previous = tags[t - 1] if t else "O"
            joined = scheme == "iob1" and previous[:1] in ("E", "S") and previous[2:] == name
            out.append(("B-" if scheme == "iob2" or joined else "I-") + name)
        else:
            out.append("O" if kind == "O" else "I-" + name)
    return out


class Translator(Artifact):
    def __init__(self, directory, manifest):
        super().__init__(directory, manifest)
        joint = manifest["tokenizer"]["joint"]
        self.src = self.tokenizer(None if joint else "src")
        self.tgt = self.src if joint else self.tokenizer("tgt")
        self.lstm = manifest["cell"] == "lstm"

    def hypotheses(self, lines, **settings):
        """Per line up to n_best (token ids, length-penalised score, log-probability), best first."""
        return self.search([self.src.encode(line) + [EOS] if line.strip() else None for line in lines], **settings)

    def search(self, src, beam=5, n_best=1, length_penalty=0.6, max_ratio=2.0, max_extra=10, beam_stop="best", batch_size=64):
        """hypotheses() of source ids (each ending in EOS; None: a blank line, no output);
        beam_stop as rnncli's --beam-stop: best (OpenNMT-py's rule) or exact."""
        if beam_stop not in ("best", "exact"):
            raise ValueError(f"beam_stop must be best or exact, not {beam_stop!r}")
        out = [[] for _ in src]
        todo = [i for i, ids in enumerate(src) if ids is not None]
        for group in batches([len(src[i]) for i in todo], batch_size):
            group = [todo[g] for g in group]
            x, n = pad([src[i] for i in group])
            settings = (beam, n_best, length_penalty, max_ratio, max_extra, beam_stop == "exact")
            tokens, lengths, log_probs, real = (self.script(x, n, *settings) if not self.onnx
                                                else self.beam_search(x, n, *settings))
            penalty = np.power((np.float32(5.0) + lengths.astype(np.float32)) / np.float32(6.0),
                               np.float32(length_penalty))
            for row, i in enumerate(group):
                out[i] = [(tokens[row, k, : max(0, lengths[row, k] - 1)].tolist(),
                           float(log_probs[row, k] / penalty[row, k]), float(log_probs[row, k]))
                          for k in range(n_best) if real[row, k]]
        return out

    def translate(self, lines, **settings):
        return [self.tgt.decode(h[0][0]).replace("\r", " ").replace("\n", " ") if h else ""
                for h in self.hypotheses(lines, **settings)]

    def step(self, prev, state, memory, keys, mask):
        names = ("h", "c") if self.lstm else ("h",)
        out = self.graph("step", prev=prev, **dict(zip(names, state)), memory=memory, keys=keys, mask=mask)
        return out[0].astype(np.float32), out[1:]

    def beam_search(self, src, src_lengths, beam, n_best, alpha, max_ratio, max_extra, exact):
        """rnncli.decoding.beam.beam_search in numpy over the encoder and step graphs."""
        def penalty(n):
            return np.power((np.float32(5.0) + n.astype(np.float32)) / np.float32(6.0), np.float32(alpha))
        batch = src.shape[0]
        encoded = self.graph("encoder", src=src, src_lengths=src_lengths)
        state, memory, keys = [s.repeat(beam, axis=1) for s in encoded[:-2]], encoded[-2], encoded[-1]
        mask = np.arange(src.shape[1])[None, :] < src_lengths[:, None]
        scores = np.zeros((batch, beam), dtype=np.float32)
        scores[:, 1:] = -np.inf
        scores = scores.reshape(-1)
        limits = (np.floor(src_lengths.astype(np.float32) * np.float32(max_ratio)).astype(np.int64)
                  + max_extra).repeat(beam)
        tokens = np.zeros((batch * beam, 0), dtype=np.int64)
        lengths = np.zeros(batch * beam, dtype=np.int64)
        finished = np.zeros(batch * beam, dtype=bool)
        active, results = np.arange(batch), [None] * batch
        while True:
            live, step = scores.shape[0] // beam, tokens.shape[1]
            prev = tokens[:, -1] if step else np.full_like(lengths, BOS)
            log_probs, state = self.step(prev, state, memory, keys, mask)
            log_probs[:, PAD] = log_probs[:, BOS] = -np.inf
            forced = (step + 1 >= limits) & ~finished
            eos = log_probs[forced, EOS]
            log_probs[forced] = -np.inf
            log_probs[forced, EOS] = eos
            log_probs[finished] = -np.inf
            log_probs[finished, PAD] = 0.0
            top_lp, top_tok = topk(log_probs, min(beam, log_probs.shape[1]))
            cumulative = scores[:, None] + top_lp
            rank = (cumulative / penalty(lengths + ~finished)[:, None]).reshape(live, -1)
            cumulative, top_tok = cumulative.reshape(live, -1), top_tok.reshape(live, -1)
            _, best = topk(rank, beam)
            origin = (best // (top_tok.shape[1] // beam) + np.arange(live)[:, None] * beam).reshape(-1)
            scores = np.take_along_axis(cumulative, best, axis=1).reshape(-1)
            lengths = lengths[origin] + ~finished[origin]
            tokens = np.concatenate([tokens[origin], np.take_along_axis(top_tok, best, 1).reshape(-1, 1)], 1)
            finished = finished[origin] | (tokens[:, -1] == EOS)
            state = [s[:, origin] for s in state]
            fin = finished.reshape(live, beam)
            rank_now = (scores / penalty(lengths)).reshape(live, beam)
            bound = scores / penalty(limits if exact else lengths)
            best_live = np.where(finished, -np.inf, bound).reshape(live, beam).max(axis=1)
            settled = topk(np.where(fin, rank_now, -np.inf), min(n_best, beam))[0][:, -1]
            done = fin.all(axis=1) | (settled >= best_live)
            for b in np.nonzero(done)[0]:
                rows = slice(b * beam, (b + 1) * beam)
                final = np.where(finished[rows], scores[rows] / penalty(lengths[rows]), -np.inf)
                top_rank, order = topk(final[None, :], n_best)
                results[active[b]] = (tokens[rows][order[0]], lengths[rows][order[0]], scores[rows][order[0]],
                                      top_rank[0] > -np.inf)
            if done.all():
                break
            keep = np.repeat(~done, beam)
            tokens, scores, lengths, finished, limits = (a[keep] for a in (tokens, scores, lengths, finished, limits))
            state = [s[:, keep] for s in state]
            memory, keys, mask, active = memory[~done], keys[~done], mask[~done], active[~done]
        width = max(r[0].shape[1] for r in results)
        padded = np.zeros((batch, n_best, width), dtype=np.int64)
        for i, r in enumerate(results):
            padded[i, :, : r[0].shape[1]] = r[0]
        return padded, np.stack([r[1] for r in results]), np.stack([r[2] for r in results]), \
            np.stack([r[3] for r in results])


class LanguageModel(Artifact):
    def __init__(self, directory, manifest):
        super().__init__(directory, manifest)
        self.tok, self.lstm = self.tokenizer(), manifest["cell"] == "lstm"
        self.state_shape = manifest["state_shape"]       # (layers, hidden)

    def prompt(self, text):
        x, n = pad([self.tok.encode(text) or [BOS]])
        return x, n

    def run(self, ids, lengths, state):
        names = ("h", "c") if self.lstm else ("h",)
        out = self.graph("step", ids=ids, lengths=lengths, **dict(zip(names, state)))
        return out[0].astype(np.float32), out[1:]

    def start(self, ids, lengths):
        zeros = np.zeros((self.state_shape[0], ids.shape[0], self.state_shape[1]), dtype=np.float32)
        return self.run(ids, lengths, [zeros] * (2 if self.lstm else 1))

    def next_probs(self, text):
        """The distribution of the token after `text`."""
        ids, n = self.prompt(text)
        if not self.onnx:
            return self.torch_call("next_probs", ids, n)[0]
        logits, _ = self.start(ids, n)
        e = np.exp(logits - logits.max(-1, keepdims=True))
        return (e / e.sum(-1, keepdims=True))[0]

    def torch_call(self, method, *args):
        with self.torch.inference_mode():
            return getattr(self.module, method)(*[self.torch.from_numpy(a) for a in args]).numpy()

    def sample_ids(self, text, max_tokens=200, temperature=0.8, top_k=0, top_p=1.0, seed=0):
        """Token ids sampled after `text`. TorchScript: torch's generator seeded with
        `seed`, exactly as `rnncli generate --seed`; ONNX: numpy's (greedy with temperature 0
        is the same everywhere)."""
        ids, n = self.prompt(text)
        if not self.onnx:
            return self.script(ids, n, max_tokens, float(temperature), top_k, float(top_p), seed)[0].tolist()
        rng, out = np.random.default_rng(seed), []
        logits, state = self.start(ids, n)
        for _ in range(max_tokens):
            if temperature <= 0:
                token = int(logits[0].argmax())
            else:
                z = logits[0] / np.float32(temperature)
                if 0 < top_k < z.shape[0]:
                    z = np.where(z < np.sort(z)[-top_k], -np.inf, z)
                order = np.argsort(-z, kind="stable")
                p = np.exp(z[order] - z[order[0]])
                p /= p.sum()
                z[order[(np.cumsum(p) - p) >= top_p]] = -np.inf
                p = np.exp(z - z.max())
                token = int(rng.choice(len(p), p=p / p.sum()))
            out.append(token)
            logits, state = self.run(np.array([[token]]), np.array([1]), state)
        return out

    def generate(self, text="", **settings):
        return self.tok.decode(self.sample_ids(text, **settings))


TASKS = {"classify": Classifier, "tag": Tagger, "translate": Translator, "lm": LanguageModel}


def load(directory):
    with open(os.path.join(directory, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    return TASKS[manifest["task"]](str(directory), manifest)
