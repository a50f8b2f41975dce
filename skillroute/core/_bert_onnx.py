"""Build the ONNX graph of a BERT sentence encoder straight from its safetensors weights, with numpy and onnx.

all-MiniLM-L6-v2 (and a LoRA delta merged into it) is a plain BERT encoder followed by mean pooling and L2
normalisation. Writing that graph by hand from the weights means routing never needs torch: the same vectors
as sentence-transformers (at most 1.8e-7 apart on sample texts here), from a build of about 2 s.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..errors import ModelError

__all__ = ["build_bert_onnx", "merge_lora"]

OPSET = 17  # LayerNormalization


def _config(folder: Path) -> dict:
    try:
        cfg = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"{folder / 'config.json'}: cannot read the model's config ({exc})") from exc
    if cfg.get("model_type") != "bert" or cfg.get("hidden_act", "gelu") != "gelu" \
            or cfg.get("position_embedding_type", "absolute") != "absolute":
        raise ModelError(f"{folder}: only BERT encoders with absolute positions and GELU (like all-MiniLM-L6-v2) "
                         "are exported without torch; use backend='torch' for this model")
    return cfg


def _weights(folder: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    try:
        tensors = load_file(str(folder / "model.safetensors"))
    except Exception as exc:  # safetensors raises its own error types for a damaged file
        raise ModelError(f"{folder / 'model.safetensors'}: cannot read the weights ({exc})") from exc
    # some exports prefix every name with the architecture ("bert.embeddings…")
    return {k.removeprefix("bert."): v for k, v in tensors.items()}


def merge_lora(weights: dict[str, np.ndarray], lora: dict[str, np.ndarray], scaling: float) -> dict[str, np.ndarray]:
    """Fold a LoRA delta into the base weights: ``W + scaling · B @ A`` for each adapted linear layer.

    ``lora`` is keyed by peft's names (``base_model.model.<layer>.lora_A.weight``); a pair whose layer the base
    does not have, or whose shapes do not fit, is a ModelError rather than a silently unmerged layer.
    """
    out = dict(weights)
    pairs: dict[str, dict[str, np.ndarray]] = {}
    for key, value in lora.items():
        stem = key.removeprefix("base_model.model.")
        for part in ("lora_A", "lora_B"):
            tail = f".{part}.weight"
            if stem.endswith(tail):
                pairs.setdefault(stem[: -len(tail)], {})[part] = value
                break
        else:
            raise ModelError(f"LoRA tensor {key!r} is neither a lora_A nor a lora_B weight")
    for layer, pair in sorted(pairs.items()):
        name = layer.removeprefix("bert.") + ".weight"
        if name not in out or set(pair) != {"lora_A", "lora_B"}:
            raise ModelError(f"LoRA layer {layer!r} does not match the base model (or lacks its A/B pair)")
        a = pair["lora_A"].astype(np.float32)
        b = pair["lora_B"].astype(np.float32)
        base = out[name]
        if b.shape[0] != base.shape[0] or a.shape[1] != base.shape[1] or a.shape[0] != b.shape[1]:
            raise ModelError(f"LoRA layer {layer!r}: shapes {a.shape}, {b.shape} do not fit {base.shape}")
        out[name] = (base.astype(np.float32) + np.float32(scaling) * (b @ a)).astype(base.dtype)
    return out


class _Graph:
    """A tiny helper over onnx.helper: nodes with generated output names, weights as initializers."""

    def __init__(self) -> None:
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes: list = []
        self.inits: list = []
        self._n = 0

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(self.numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, kind: str, *inputs: str, **attrs) -> str:
        self._n += 1
        out = f"{kind.lower()}_{self._n}"
        self.nodes.append(self.helper.make_node(kind, list(inputs), [out], **attrs))
        return out

    def linear(self, x: str, w: dict[str, np.ndarray], prefix: str) -> str:
        weight = self.const(f"{prefix}.weight_t", w[f"{prefix}.weight"].T.astype(np.float32))
        bias = self.const(f"{prefix}.bias", w[f"{prefix}.bias"].astype(np.float32))
        return self.op("Add", self.op("MatMul", x, weight), bias)

    def layer_norm(self, x: str, w: dict[str, np.ndarray], prefix: str, eps: float) -> str:
        g = self.const(f"{prefix}.weight", w[f"{prefix}.weight"].astype(np.float32))
        b = self.const(f"{prefix}.bias", w[f"{prefix}.bias"].astype(np.float32))
        return self.op("LayerNormalization", x, g, b, axis=-1, epsilon=eps)


def build_bert_onnx(folder: str | Path, lora: dict[str, np.ndarray] | None = None, scaling: float = 1.0) -> bytes:
    """The serialised ONNX model of ``folder``'s BERT encoder (a LoRA delta merged in when given).

    Inputs ``input_ids``, ``attention_mask``, ``token_type_ids`` (int64, batch × sequence); output
    ``sentence_embedding``: the masked mean of the last hidden states, L2-normalised (all-MiniLM-L6-v2's pooling).
    """
    from onnx import TensorProto, helper

    folder = Path(folder)
    cfg = _config(folder)
    w = _weights(folder)
    if lora:
        w = merge_lora(w, lora, scaling)
    hidden, heads = int(cfg["hidden_size"]), int(cfg["num_attention_heads"])
    eps = float(cfg.get("layer_norm_eps", 1e-12))
    head_dim = hidden // heads
    g = _Graph()
    try:
        ids, mask, types = "input_ids", "attention_mask", "token_type_ids"
        # embeddings: word + token type + position, then LayerNorm
        seq = g.op("Shape", ids, start=1, end=2)  # [sequence length], 1-D
        zero = g.const("zero_i", np.array([0], dtype=np.int64))
        pos = g.op("Slice", g.const("pos", w["embeddings.position_embeddings.weight"].astype(np.float32)), zero, seq, zero)
        x = g.op("Add", g.op("Gather", g.const("word", w["embeddings.word_embeddings.weight"].astype(np.float32)), ids),
                 g.op("Gather", g.const("ttype", w["embeddings.token_type_embeddings.weight"].astype(np.float32)), types))
        x = g.op("Add", x, pos)
        x = g.layer_norm(x, w, "embeddings.LayerNorm", eps)
        # additive attention bias: 0 where the mask is 1, a large negative number on padding; batch × 1 × 1 × seq
        maskf = g.op("Cast", mask, to=TensorProto.FLOAT)
        bias = g.op("Mul", g.op("Sub", g.const("one_f", np.array(1.0, dtype=np.float32)), maskf),
                    g.const("neg", np.array(np.finfo(np.float32).min, dtype=np.float32)))
        bias = g.op("Unsqueeze", bias, g.const("axes_12", np.array([1, 2], dtype=np.int64)))
        split = g.const("split_heads", np.array([0, 0, heads, head_dim], dtype=np.int64))
        merge = g.const("merge_heads", np.array([0, 0, hidden], dtype=np.int64))
        scale = g.const("scale", np.array(1.0 / math.sqrt(head_dim), dtype=np.float32))
        half, sqrt2 = g.const("half", np.array(0.5, dtype=np.float32)), g.const("sqrt2", np.array(math.sqrt(2.0), dtype=np.float32))
        for i in range(int(cfg["num_hidden_layers"])):
            p = f"encoder.layer.{i}"
            q = g.op("Transpose", g.op("Reshape", g.linear(x, w, f"{p}.attention.self.query"), split), perm=[0, 2, 1, 3])
            k = g.op("Transpose", g.op("Reshape", g.linear(x, w, f"{p}.attention.self.key"), split), perm=[0, 2, 3, 1])
            v = g.op("Transpose", g.op("Reshape", g.linear(x, w, f"{p}.attention.self.value"), split), perm=[0, 2, 1, 3])
            scores = g.op("Add", g.op("Mul", g.op("MatMul", q, k), scale), bias)
            ctx = g.op("MatMul", g.op("Softmax", scores, axis=-1), v)
            ctx = g.op("Reshape", g.op("Transpose", ctx, perm=[0, 2, 1, 3]), merge)
            x = g.layer_norm(g.op("Add", g.linear(ctx, w, f"{p}.attention.output.dense"), x), w,
                             f"{p}.attention.output.LayerNorm", eps)
            h = g.linear(x, w, f"{p}.intermediate.dense")  # exact GELU: h · ½ · (1 + erf(h / √2))
            h = g.op("Mul", g.op("Mul", h, g.op("Add", g.op("Erf", g.op("Div", h, sqrt2)), "one_f")), half)
            x = g.layer_norm(g.op("Add", g.linear(h, w, f"{p}.output.dense"), x), w, f"{p}.output.LayerNorm", eps)
        # masked mean over the sequence, then L2 normalisation (eps as torch's normalize)
        m3 = g.op("Unsqueeze", maskf, g.const("axis_last", np.array([-1], dtype=np.int64)))
        axis1 = g.const("axis_1", np.array([1], dtype=np.int64))
        total = g.op("ReduceSum", g.op("Mul", x, m3), axis1, keepdims=0)
        count = g.op("Max", g.op("ReduceSum", m3, axis1, keepdims=0), g.const("tiny", np.array(1e-9, dtype=np.float32)))
        pooled = g.op("Div", total, count)
        norm = g.op("Sqrt", g.op("ReduceSum", g.op("Mul", pooled, pooled), axis1, keepdims=1))
        norm = g.op("Max", norm, g.const("eps_norm", np.array(1e-12, dtype=np.float32)))
        g.nodes.append(helper.make_node("Div", [pooled, norm], ["sentence_embedding"]))
    except KeyError as exc:
        raise ModelError(f"{folder / 'model.safetensors'}: weight {exc} is missing; not a BERT encoder") from exc
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "seq"]) for n in (ids, mask, types)]
    output = helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", hidden])
    graph = helper.make_graph(g.nodes, "bert_sentence_encoder", inputs, [output], initializer=g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="skillroute")
    model.ir_version = 8  # readable by every onnxruntime the project supports
    return model.SerializeToString()
