"""Sampling from a trained language model: what `rnncli generate` and `rnncli.load(...)`
of an LM checkpoint do.

- `stream(prompt)`: one sample's text piece by piece, as it is produced; a piece that ends
  inside a multi-byte character is held back until the character is complete.
- `sample(prompt)`: one sample as a whole.
- `complete(prompts)`: many prompts sampled together, each continued up to the end of its
  line (the first newline or </s>), results in input order.
Every method takes the generation settings (config.GenerateSettings) and a seed; the same
seed gives the same text.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

import torch

from rnncli.config import GenerateSettings, build
from rnncli.decoding.sampling import sample


@dataclass
class Sample:
    text: str        # the continuation, without the prompt
    tokens: int      # tokens generated


class TextGenerator:
    """A trained language model ready to sample from."""

    task = "lm"

    def __init__(self, config: dict[str, Any], tokenizer, model, device: torch.device):
        self.config, self.tokenizer, self.model, self.device = config, tokenizer, model, device

    # ---- the plain Python API ----------------------------------------------------------
    def generate(self, prompt: str = "", **settings: Any) -> str:
        """One sample's continuation of `prompt` (settings: max_tokens, temperature, top_k,
        top_p, seed; see config.GenerateSettings)."""
        chosen = build(GenerateSettings, settings)
        return self.sample(prompt, chosen, self.rng(chosen.seed)[0]).text

    def complete_lines(self, prompts: Sequence[str], **settings: Any) -> list[str]:
        """Each prompt continued to the end of its line."""
        chosen = build(GenerateSettings, settings)
        return [s.text for s in self.complete(list(prompts), chosen, self.rng(chosen.seed)[0])]

    # ---- what the command line streams ---------------------------------------------------
    def rng(self, seed: int | None) -> tuple[torch.Generator, int]:
        """A generator seeded with `seed`, or with a fresh seed (returned, so it can be recorded)."""
        seed = seed if seed is not None else secrets.randbits(63)
        generator = torch.Generator(device=self.device)
        generator.manual_seed(seed)
        return generator, seed

    def unknown_tokens(self, prompt: str) -> int:
        return sum(1 for i in self.tokenizer.encode(prompt) if i == self.tokenizer.unk_id)

    def prompt_ids(self, prompt: str) -> list[int]:
        """The prompt's ids; an empty prompt starts from <s>, as the training text did."""
        return self.tokenizer.encode(prompt) or [self.tokenizer.bos_id]

    def sampling(self, prompts: list[list[int]], settings: GenerateSettings, generator: torch.Generator):
        return sample(self.model, prompts, max_tokens=settings.max_tokens, temperature=settings.temperature,
                      top_k=settings.top_k, top_p=settings.top_p, generator=generator, device=self.device)

    def stream(self, prompt: str, settings: GenerateSettings, generator: torch.Generator) -> Iterator[str]:
        """One sample's continuation in pieces; the pieces join to `tokenizer.decode` of it."""
        ids: list[int] = []
        shown = ""
        for next_ids in self.sampling([self.prompt_ids(prompt)], settings, generator):
            ids.append(int(next_ids[0]))
            text = self.tokenizer.decode(ids)
            if text.startswith(shown) and not text.endswith("\ufffd"):  # hold back partial UTF-8
                yield text[len(shown):]
                shown = text
        rest = self.tokenizer.decode(ids)[len(shown):]
        if rest:
            yield rest

    def sample(self, prompt: str, settings: GenerateSettings, generator: torch.Generator) -> Sample:
        ids = [int(next_ids[0]) for next_ids in self.sampling([self.prompt_ids(prompt)], settings, generator)]
        return Sample(self.tokenizer.decode(ids), len(ids))

    def complete(self, prompts: list[str], settings: GenerateSettings, generator: torch.Generator) -> list[Sample]:
        """Prompts sampled as one batch, each stopped at its first newline or </s>."""
        tokenizer = self.tokenizer
        generated: list[list[int]] = [[] for _ in prompts]
        done = [False] * len(prompts)
        newline = set(tokenizer.encode("\n")) - {tokenizer.unk_id}
        for next_ids in self.sampling([self.prompt_ids(p) for p in prompts], settings, generator):
            for row, token in enumerate(next_ids.tolist()):
                if not done[row]:
                    if token in newline or token == tokenizer.eos_id:
                        done[row] = True
                    else:
                        generated[row].append(token)
            if all(done):
                break
        return [Sample(tokenizer.decode(ids).split("\n")[0], len(ids)) for ids in generated]

    def complete_stream(self, lines: Iterable[tuple[int, str]], settings: GenerateSettings,
                        generator: torch.Generator) -> Iterator[tuple[int, int, str, Sample]]:
        """(line number, sample number, prompt, sample) for every line and sample, in input
        order; `settings.batch_size` prompts are sampled together (the last batch may be
        smaller: a pipeline gets its answers as soon as its input ends)."""
        pending: list[tuple[int, int, str]] = []
        for number, line in lines:
            pending.extend((number, index + 1, line) for index in range(settings.num_samples))
            if len(pending) >= settings.batch_size:
                yield from self.complete_pending(pending, settings, generator)
                pending = []
        if pending:
            yield from self.complete_pending(pending, settings, generator)

    def complete_pending(self, pending, settings, generator) -> Iterator[tuple[int, int, str, Sample]]:
        samples = self.complete([prompt for _, _, prompt in pending], settings, generator)
        for (number, index, prompt), sample in zip(pending, samples):
            yield number, index, prompt, sample

    # ---- scoring -------------------------------------------------------------------------
    def evaluate(self, data: Sequence[str], **options: Any) -> dict[str, Any]:
        """`rnncli eval CKPT FILE`: nats per token and character of one text file."""
        from rnncli.errors import UsageError
        from rnncli.tasks.lm import evaluate_text

        if len(data) != 1:
            raise UsageError("a language model is evaluated on one text file: rnncli eval CKPT FILE")
        return evaluate_text(self.model, self.tokenizer, self.config, self.device, data[0])
