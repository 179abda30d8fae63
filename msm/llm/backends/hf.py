"""A local transformers causal LM as an LLM backend (no server, no network).

Requests that arrive together are generated together: ``send`` queues the request and a drain task
takes up to ``batch_size`` queued requests per ``generate`` call (left padding, chat template applied).
Generation runs in a worker thread so the event loop, and with it the client's async API, stays free.

Sampling is done per row by a logits processor with its own ``torch.Generator`` seeded from the
request's cache key (which covers ``sample_index``), so a request's sample depends on the request, not
on which other requests share its batch or on the global RNG; ``generate`` itself runs greedy over the
processor's one-hot choice. That also lets one batch mix temperatures, top_p values and ``max_tokens``:
a row that reaches its own ``max_tokens`` is ended with EOS and reported as ``finish_reason="length"``.
Temperature 0 is greedy. Stop strings are applied to the decoded text afterwards (generation does not
end early at them). Timeouts do not apply: a local generate call cannot be interrupted.

A request with a JSON schema is decoded under it: llguidance (a Rust grammar engine; lm-format-enforcer's
transformers integration does not import under transformers 5, and xgrammar pulls in triton) compiles the
schema to a grammar and, at every step, masks the tokens that would break it before the row samples, so
the answer is valid JSON whatever the weights (unless ``max_tokens`` cuts it first: bound the schema's
strings and lists to fit). Unconstrained rows in the same batch are untouched.
"""

from __future__ import annotations

import asyncio
import threading

from msm.llm.types import Request, Response, Secret


class _RowSampler:
    """LogitsProcessor: for each row, pick the next token with that row's settings and generator (within its
    grammar's mask, for a row with a JSON schema), and return scores that make greedy decoding pick exactly it."""

    def __init__(self, reqs: list[Request], seeds: list[int], prompt_len: int, eos_id: int, vocab: int, device,
                 matchers: list | None = None):
        import torch

        self.reqs, self.prompt_len, self.eos_id, self.vocab = reqs, prompt_len, eos_id, vocab
        self.gens = [torch.Generator(device=device).manual_seed(s) for s in seeds]
        self.matchers = matchers or [None] * len(reqs)
        self.ended = [False] * len(reqs)

    def _allowed(self, i: int, input_ids, step: int):
        """Row i's grammar mask over the vocabulary (after feeding it the token the row picked last step),
        or None for a row without a schema."""
        import torch

        matcher = self.matchers[i]
        if matcher is None:
            return None
        if step > 0:
            matcher.consume_token(int(input_ids[i, -1]))
        bias = torch.frombuffer(bytearray(matcher.compute_logit_bias()), dtype=torch.uint8)[: self.vocab]
        allowed = torch.zeros(self.vocab, dtype=torch.bool)
        allowed[: len(bias)] = bias > 0
        return allowed

    def __call__(self, input_ids, scores):
        import torch

        step = input_ids.shape[1] - self.prompt_len
        out = torch.full_like(scores, float("-inf"))
        for i, req in enumerate(self.reqs):
            if self.ended[i] or step >= req.max_tokens:
                out[i, self.eos_id] = 0.0
                continue
            logits = scores[i, : self.vocab].float()
            allowed = self._allowed(i, input_ids, step)
            if allowed is not None:
                if not allowed.any():  # the grammar is complete (or broken): the row ends
                    self.ended[i] = True
                    out[i, self.eos_id] = 0.0
                    continue
                logits = logits.masked_fill(~allowed.to(logits.device), float("-inf"))
            if req.temperature <= 0:
                token = int(torch.argmax(logits))
            else:
                probs = torch.softmax(logits / req.temperature, dim=-1)
                if req.top_p is not None and req.top_p < 1.0:
                    sorted_p, order = torch.sort(probs, descending=True)
                    drop = torch.cumsum(sorted_p, dim=-1) - sorted_p > req.top_p  # keeps at least one
                    probs = probs.scatter(0, order, sorted_p.masked_fill(drop, 0.0))
                token = int(torch.multinomial(probs, 1, generator=self.gens[i]))
            self.ended[i] = token == self.eos_id
            out[i, token] = 0.0
        return out


class HFBackend:
    name = "hf"

    def __init__(self, model: str, *, weights: str | None = None, device: str | None = None, dtype: str = "auto",
                 batch_size: int = 8):
        self.model = str(model)  # the name in cache keys and sample seeds: a store's weights by their key, not path
        self.weights = str(weights or model)  # where they are loaded from
        self.device = device
        self.dtype = dtype
        self.batch_size = int(batch_size)
        self.batch_sizes: list[int] = []  # rows of every generate() call, for reports and tests
        self._lm = None
        self._tok = None
        self._load_lock = threading.Lock()
        self._gen_lock = threading.Lock()
        self._pending: list[tuple[Request, asyncio.Future]] = []
        self._drain_task: asyncio.Task | None = None
        self._lltok = None  # llguidance's view of the tokenizer, made on the first schema request
        self._grammars: dict[str, str] = {}

    def __repr__(self) -> str:
        return (f"HFBackend(model={self.model!r}, weights={self.weights!r}, device={self.device!r}, dtype={self.dtype!r}, "
                f"batch_size={self.batch_size})")

    def secrets(self) -> tuple[Secret, ...]:
        return ()

    async def aclose(self) -> None:
        """Keeps the model loaded: the next ``complete_many`` should not pay for loading again."""

    def _load(self):
        with self._load_lock:
            if self._lm is None:
                from msm.models import load_model, load_tokenizer

                tok = load_tokenizer(self.weights)
                tok.padding_side = "left"
                self._lm = load_model(self.weights, dtype=self.dtype, device=self.device)
                self._tok = tok
        return self._lm, self._tok

    async def send(self, req: Request, timeout_s: float) -> Response:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        if self._drain_task is None or self._drain_task.done() or self._drain_task.get_loop() is not loop:
            self._pending = [p for p in self._pending if p[1].get_loop() is loop]
            self._drain_task = loop.create_task(self._drain())
        self._pending.append((req, fut))
        return await fut

    async def _drain(self) -> None:
        while self._pending:
            for _ in range(20):  # a few scheduler turns (not a timer): requests just released join this batch
                if len(self._pending) >= self.batch_size:
                    break
                await asyncio.sleep(0)
            batch, self._pending = self._pending[: self.batch_size], self._pending[self.batch_size :]
            batch = [(r, f) for r, f in batch if not f.done()]
            if not batch:
                continue
            try:
                resps = await asyncio.to_thread(self.generate, [r for r, _ in batch])
            except Exception as e:
                for _, f in batch:
                    if not f.done():
                        f.set_exception(e)
                continue
            for (_, f), resp in zip(batch, resps):
                if not f.done():
                    f.set_result(resp)

    def _matcher(self, schema: str, tok, eos_id: int):
        """A fresh llguidance matcher for one row under ``schema`` (compact JSON: no free whitespace, which a
        small model would otherwise fill with newlines)."""
        import llguidance
        import llguidance.hf

        if self._lltok is None:
            self._lltok = llguidance.hf.from_tokenizer(tok, eos_token=eos_id)
        if schema not in self._grammars:
            self._grammars[schema] = llguidance.LLMatcher.grammar_from_json_schema(
                schema, overrides={"whitespace_flexible": False})
        matcher = llguidance.LLMatcher(self._lltok, self._grammars[schema], log_level=0)
        if matcher.is_error():
            raise ValueError(f"hf: the JSON schema does not compile to a grammar: {matcher.get_error()}")
        return matcher

    def generate(self, reqs: list[Request]) -> list[Response]:
        """One batched ``generate`` over ``reqs`` (blocking)."""
        import torch
        from transformers import GenerationConfig, LogitsProcessorList

        model, tok = self._load()
        texts = []
        for r in reqs:
            msgs = ([{"role": "system", "content": r.system}] if r.system else []) + [dict(m) for m in r.messages]
            texts.append(tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True))
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        prompt_len = enc["input_ids"].shape[1]
        eos = model.generation_config.eos_token_id if model.generation_config.eos_token_id is not None else tok.eos_token_id
        eos_ids = [eos] if isinstance(eos, int) else list(eos)
        seeds = [int(r.cache_key(self.name, self.model)[:15], 16) for r in reqs]
        matchers = [self._matcher(r.schema, tok, eos_ids[0]) if r.schema else None for r in reqs]
        sampler = _RowSampler(reqs, seeds, prompt_len, eos_ids[0], min(len(tok), model.config.vocab_size), model.device,
                              matchers)
        config = GenerationConfig(do_sample=False, max_new_tokens=max(r.max_tokens for r in reqs), use_cache=True,
                                  eos_token_id=eos_ids, pad_token_id=tok.pad_token_id)
        with self._gen_lock, torch.inference_mode():
            out = model.generate(**enc, generation_config=config, logits_processor=LogitsProcessorList([sampler]))
        self.batch_sizes.append(len(reqs))
        resps = []
        for i, r in enumerate(reqs):
            ids = out[i, prompt_len:].tolist()
            n = next((j for j, t in enumerate(ids) if t in eos_ids), len(ids))
            finish = "length" if n >= r.max_tokens else "stop"
            text = tok.decode(ids[: min(n, r.max_tokens)], skip_special_tokens=True)
            cuts = [text.find(s) for s in (r.stop or ()) if s and s in text]
            if cuts:
                text, finish = text[: min(cuts)], "stop"
            resps.append(Response(text, finish, input_tokens=int(enc["attention_mask"][i].sum()),
                                  output_tokens=min(n, r.max_tokens) + (1 if n < min(len(ids), r.max_tokens) else 0),
                                  structured=r.schema is not None))
        return resps
