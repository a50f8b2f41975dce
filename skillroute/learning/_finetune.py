"""The description-reading fine-tune: a LoRA delta that teaches MiniLM to match requests to their skill's
trigger facets, and the merge that turns base model + delta into an ordinary model folder for the encoders.

A skill's score is the log-sum-exp (scale ``scale``) of a request's cosine to each of its facets, and the loss
is cross-entropy over the exclusive skills, so every other skill is a negative at every step. Requests are fed
in the views the router reads; ``none`` requests are left to the thresholds. torch, transformers and peft are
imported here only, never on the routing path.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core._delta import FinetuneConfig, LoraDelta
from ..core._encoder import ModelSource, quiet_transformers
from ..core._query import read_request
from ..errors import ModelError, require

__all__ = ["Episode", "finetune", "finetune_episodes", "mean_pool", "LORA_TARGETS"]

# every linear layer of the transformer blocks (attention q/k/v/output, feed-forward in/out), not the pooler
LORA_TARGETS = r".*encoder\.layer\.\d+\..*(query|key|value|dense)$"


def _require_torch():
    require("fit", "torch", "transformers", "peft")


def mean_pool(hidden, attention_mask):
    """all-MiniLM-L6-v2's sentence vector (torch tensors): the masked mean of the token vectors, L2-normalised;
    the same pooling as the ONNX graph (``bert_onnx``), which a test holds equal."""
    import torch

    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, p=2, dim=1)


def _lora_model(base: Path, config: FinetuneConfig):
    """The base transformer with LoRA layers around its linear layers (peft), and its tokenizer."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel, AutoTokenizer

    quiet_transformers()
    model = AutoModel.from_pretrained(str(base))
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)  # peft's
    lora = LoraConfig(r=config.rank, lora_alpha=config.alpha, lora_dropout=0.0, target_modules=LORA_TARGETS,
                      bias="none")
    return get_peft_model(model, lora), AutoTokenizer.from_pretrained(str(base))


def _embed(model, tokenizer, texts: Sequence[str], max_length: int, chunk_tokens: int = 2048):
    """Mean-pooled, L2-normalised sentence vectors with gradients (the model's sentence-transformers pipeline),
    run in chunks of similar length: padding every facet to the longest prompt made a step six times dearer."""
    import torch

    ids = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
    chunks: list[list[int]] = [[]]
    for i in order:
        if chunks[-1] and len(ids[i]) * (len(chunks[-1]) + 1) > chunk_tokens:
            chunks.append([])
        chunks[-1].append(i)
    out: list[Any] = [None] * len(texts)
    for chunk in chunks:
        batch = tokenizer.pad({"input_ids": [ids[i] for i in chunk]}, return_tensors="pt")
        batch["token_type_ids"] = torch.zeros_like(batch["input_ids"])
        hidden = model(**batch).last_hidden_state
        pooled = mean_pool(hidden, batch["attention_mask"])
        for r, i in enumerate(chunk):
            out[i] = pooled[r]
    return torch.stack(out)


@dataclass(frozen=True)
class Episode:
    """One catalog to learn from: its exclusive skills (name, trigger facets), the softmax's classes, and
    requests labelled with one of them (others, such as ``none``, are skipped)."""

    skills: Sequence[tuple[str, Sequence[str]]]
    prompts: Sequence[str]
    labels: Sequence[str]


def finetune(source: ModelSource, skills: Sequence[tuple[str, Sequence[str]]], prompts: Sequence[str],
             labels: Sequence[str], *, view_weights: Sequence[float] = (0.5, 0.25, 0.25),
             config: FinetuneConfig = FinetuneConfig(),
             progress: Callable[[int, float], None] | None = None) -> LoraDelta:
    """Train a LoRA delta on one catalog's (request, facet) pairs (see ``finetune_episodes``)."""
    return finetune_episodes(source, [Episode(skills, prompts, labels)], view_weights=view_weights, config=config,
                             progress=progress)


def finetune_episodes(source: ModelSource, episodes: Sequence[Episode], *,
                      view_weights: Sequence[float] = (0.5, 0.25, 0.25), config: FinetuneConfig = FinetuneConfig(),
                      progress: Callable[[int, float], None] | None = None) -> LoraDelta:
    """Train a LoRA delta on (request, facet) pairs, a catalog at a time.

    Each step draws an episode (in proportion to its labelled requests), a batch of its requests, and scores
    each request against every skill of that catalog: the other skills of the same catalog are the
    negatives. Many catalogs teach the encoder to read descriptions in general rather than to recognise
    a few skills. ``progress(step, loss)`` is called after every step.
    """
    _require_torch()
    import torch
    from peft import get_peft_model_state_dict

    if source.path is None or source.sha256 is None:
        raise ModelError("the fine-tune needs a local model folder (the packaged model or SKILLROUTE_MODEL)")
    plans = []
    for ep in episodes:
        names = [n for n, _ in ep.skills]
        pos = {n: i for i, n in enumerate(names)}
        train = [(p, pos[y]) for p, y in zip(ep.prompts, ep.labels, strict=True) if y in pos]
        if not all(fs for _, fs in ep.skills):
            raise ValueError("every skill in the fine-tune needs at least one trigger facet")
        if len({y for _, y in train}) >= 2:
            facets = [f for _, fs in ep.skills for f in fs]
            owner = torch.tensor([i for i, (_, fs) in enumerate(ep.skills) for _ in fs])
            plans.append((names, train, facets, owner))
    if not plans:
        raise ValueError("the fine-tune needs labelled examples of at least two skills")

    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)
    model, tokenizer = _lora_model(source.path, config)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=0.0)
    warmup = max(1, config.steps // 10)

    def lr_factor(s: int) -> float:  # linear warm-up over a tenth of the steps, then linear decay to zero
        return (s + 1) / warmup if s < warmup else max(0.0, (config.steps - s) / max(1, config.steps - warmup))

    sched = torch.optim.lr_scheduler.LambdaLR(optim, lr_factor)
    views = {p: read_request(p)[1] for _, train, _, _ in plans for p, _ in train}
    w = torch.tensor(list(view_weights), dtype=torch.float32)
    orders: list[list[int]] = [[] for _ in plans]
    sizes = [len(train) for _, train, _, _ in plans]
    history: list[float] = []
    for step in range(config.steps):
        e = 0 if len(plans) == 1 else rng.choices(range(len(plans)), weights=sizes)[0]
        names, train, facets, owner = plans[e]
        if len(orders[e]) < config.batch_size:
            more = list(range(len(train)))
            rng.shuffle(more)
            orders[e] += more
        batch, orders[e] = orders[e][:config.batch_size], orders[e][config.batch_size:]
        texts, rows, weights = [], [], []
        for b, i in enumerate(batch):
            vs = views[train[i][0]]
            ww = w[:len(vs)] / w[:len(vs)].sum()
            for v, wv in zip(vs, ww, strict=False):
                texts.append(v)
                rows.append(b)
                weights.append(float(wv))
        f = _embed(model, tokenizer, facets, config.max_length)
        q = _embed(model, tokenizer, texts, config.max_length)
        sims = config.scale * (q @ f.T)  # views x facets
        per_skill = torch.stack([torch.logsumexp(sims[:, owner == k], dim=1) for k in range(len(names))], dim=1)
        combine = torch.zeros(len(batch), len(texts))
        combine[torch.tensor(rows), torch.arange(len(texts))] = torch.tensor(weights)
        logits = combine @ per_skill  # view-weighted mean of each request's skill scores
        target = torch.tensor([train[i][1] for i in batch])
        loss = torch.nn.functional.cross_entropy(logits, target)
        optim.zero_grad()
        loss.backward()
        optim.step()
        sched.step()
        history.append(float(loss.detach()))
        if progress is not None:
            progress(step + 1, history[-1])
    state = get_peft_model_state_dict(model)
    tensors = {k: v.detach().to(torch.float16).numpy() for k, v in state.items()}
    return LoraDelta(tensors, config, source.sha256, history)
