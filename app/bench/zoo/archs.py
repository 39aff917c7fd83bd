"""Each zoo architecture's hyperparameters and tensor shapes, as llama.cpp's loader asks for them.

Tensor names come from the ``gguf`` package (``gguf.MODEL_TENSORS``); shapes are llama.cpp's
``ne`` order (the first dimension is a row's length), as ``create_tensor`` asks for them in
llama.cpp's model loader (llama-cpp-python 0.3.36's vendored copy). Every model here keeps
its output tied to the token embeddings except gpt-oss (whose loader needs ``output``), and
uses the starter's tokenizer (49,152 tokens).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Tensors = list[tuple[str, tuple[int, ...]]]


@dataclass(frozen=True)
class Dims:
    """One size of a zoo model (the same numbers serve every architecture)."""

    n_embd: int
    n_layer: int
    n_ff: int
    n_head: int
    n_head_kv: int
    head_dim: int
    n_expert: int = 8
    n_expert_used: int = 2
    n_ff_exp: int = 0  # 0: n_ff // 4


@dataclass(frozen=True)
class Arch:
    """An architecture: its GGUF keys (without the ``ARCH.`` prefix) and tensors for ``Dims``."""

    name: str
    keys: Callable[[Dims], dict]
    tensors: Callable[[Dims, int], Tensors]
    tied_output: bool = True


def _common(d: Dims) -> dict:
    return {
        "context_length": 8192,
        "embedding_length": d.n_embd,
        "block_count": d.n_layer,
        "feed_forward_length": d.n_ff,
        "attention.head_count": d.n_head,
        "attention.head_count_kv": d.n_head_kv,
        "attention.key_length": d.head_dim,
        "attention.value_length": d.head_dim,
        "attention.layer_norm_rms_epsilon": 1e-6,
        "rope.freq_base": 10000.0,
        "rope.dimension_count": d.head_dim,
    }


def _ff_exp(d: Dims) -> int:
    return d.n_ff_exp or d.n_ff // 4


def _top(d: Dims, n_vocab: int, tied: bool = True) -> Tensors:
    out = [("token_embd.weight", (d.n_embd, n_vocab)), ("output_norm.weight", (d.n_embd,))]
    return out if tied else [*out, ("output.weight", (d.n_embd, n_vocab))]


def _attention(d: Dims, i: int, qk_norm: bool = False) -> Tensors:
    q, kv = d.n_head * d.head_dim, d.n_head_kv * d.head_dim
    out = [
        (f"blk.{i}.attn_norm.weight", (d.n_embd,)),
        (f"blk.{i}.attn_q.weight", (d.n_embd, q)),
        (f"blk.{i}.attn_k.weight", (d.n_embd, kv)),
        (f"blk.{i}.attn_v.weight", (d.n_embd, kv)),
        (f"blk.{i}.attn_output.weight", (q, d.n_embd)),
    ]
    if qk_norm:
        out += [
            (f"blk.{i}.attn_q_norm.weight", (d.head_dim,)),
            (f"blk.{i}.attn_k_norm.weight", (d.head_dim,)),
        ]
    return out


def _ffn(d: Dims, i: int, n_ff: int | None = None, norm: bool = True) -> Tensors:
    n_ff = n_ff or d.n_ff
    out = [(f"blk.{i}.ffn_norm.weight", (d.n_embd,))] if norm else []
    return out + [
        (f"blk.{i}.ffn_gate.weight", (d.n_embd, n_ff)),
        (f"blk.{i}.ffn_up.weight", (d.n_embd, n_ff)),
        (f"blk.{i}.ffn_down.weight", (n_ff, d.n_embd)),
    ]


def _experts(d: Dims, i: int) -> Tensors:
    ff = _ff_exp(d)
    return [
        (f"blk.{i}.ffn_norm.weight", (d.n_embd,)),
        (f"blk.{i}.ffn_gate_inp.weight", (d.n_embd, d.n_expert)),
        (f"blk.{i}.ffn_gate_exps.weight", (d.n_embd, ff, d.n_expert)),
        (f"blk.{i}.ffn_up_exps.weight", (d.n_embd, ff, d.n_expert)),
        (f"blk.{i}.ffn_down_exps.weight", (ff, d.n_embd, d.n_expert)),
    ]


def _moe_keys(d: Dims) -> dict:
    return {
        "expert_count": d.n_expert,
        "expert_used_count": d.n_expert_used,
        "expert_feed_forward_length": _ff_exp(d),
    }


# -- llama, qwen3, gemma3 ----------------------------------------------------------------------


def _llama(d: Dims, n_vocab: int) -> Tensors:
    out = _top(d, n_vocab)
    for i in range(d.n_layer):
        out += _attention(d, i) + _ffn(d, i)
    return out


def _qwen3(d: Dims, n_vocab: int) -> Tensors:
    out = _top(d, n_vocab)
    for i in range(d.n_layer):
        out += _attention(d, i, qk_norm=True) + _ffn(d, i)
    return out


GEMMA3_WINDOW = 512  # small, so that a 4,096-token context holds more than the window


def _gemma3_keys(d: Dims) -> dict:
    return {**_common(d), "attention.sliding_window": GEMMA3_WINDOW}


def _gemma3(d: Dims, n_vocab: int) -> Tensors:
    out = _top(d, n_vocab)
    for i in range(d.n_layer):
        out += _attention(d, i, qk_norm=True) + _ffn(d, i)
        out += [
            (f"blk.{i}.post_attention_norm.weight", (d.n_embd,)),
            (f"blk.{i}.post_ffw_norm.weight", (d.n_embd,)),
        ]
    return out


# -- qwen3moe, gpt-oss -------------------------------------------------------------------------


def _qwen3moe(d: Dims, n_vocab: int) -> Tensors:
    out = _top(d, n_vocab)
    for i in range(d.n_layer):
        out += _attention(d, i, qk_norm=True) + _experts(d, i)
    return out


GPT_OSS_WINDOW = 128


def _gpt_oss_keys(d: Dims) -> dict:
    return {
        **_common(d),
        **_moe_keys(d),
        "attention.sliding_window": GPT_OSS_WINDOW,
        "rope.scaling.type": "yarn",
        "rope.scaling.factor": 1.0,
        "rope.scaling.original_context_length": 8192,
    }


def _gpt_oss(d: Dims, n_vocab: int) -> Tensors:
    q, kv, ff = d.n_head * d.head_dim, d.n_head_kv * d.head_dim, _ff_exp(d)
    out = _top(d, n_vocab, tied=False)
    for i in range(d.n_layer):
        p = f"blk.{i}."
        out += _attention(d, i) + [
            (p + "attn_q.bias", (q,)),
            (p + "attn_k.bias", (kv,)),
            (p + "attn_v.bias", (kv,)),
            (p + "attn_output.bias", (d.n_embd,)),
            (p + "attn_sinks.weight", (d.n_head,)),
            (p + "post_attention_norm.weight", (d.n_embd,)),
            (p + "ffn_gate_inp.weight", (d.n_embd, d.n_expert)),
            (p + "ffn_gate_inp.bias", (d.n_expert,)),
            (p + "ffn_gate_exps.weight", (d.n_embd, ff, d.n_expert)),
            (p + "ffn_gate_exps.bias", (ff, d.n_expert)),
            (p + "ffn_up_exps.weight", (d.n_embd, ff, d.n_expert)),
            (p + "ffn_up_exps.bias", (ff, d.n_expert)),
            (p + "ffn_down_exps.weight", (ff, d.n_embd, d.n_expert)),
            (p + "ffn_down_exps.bias", (d.n_embd, d.n_expert)),
        ]
    return out


# -- deepseek2 (multi-head latent attention) ---------------------------------------------------

ROPE_MLA = 32  # the rotary part of a key (DeepSeek's 64, halved)


def _kv_lora(d: Dims) -> int:
    return 2 * d.head_dim


def _deepseek2_keys(d: Dims) -> dict:
    lora, nope = _kv_lora(d), d.head_dim
    return {
        **_common(d),
        **_moe_keys(d),
        "attention.head_count_kv": 1,  # the compressed KV is one "head" shared by all
        "attention.q_lora_rank": 0,  # "lite": queries straight from the embeddings
        "attention.kv_lora_rank": lora,
        "attention.key_length": lora + ROPE_MLA,
        "attention.value_length": lora,
        "attention.key_length_mla": nope + ROPE_MLA,
        "attention.value_length_mla": d.head_dim,
        "rope.dimension_count": ROPE_MLA,
        "leading_dense_block_count": 1,
        "expert_shared_count": 1,
        "expert_weights_scale": 1.0,
        "expert_weights_norm": True,
        "expert_gating_func": 2,  # sigmoid
    }


def _deepseek2(d: Dims, n_vocab: int) -> Tensors:
    lora, nope, ff = _kv_lora(d), d.head_dim, _ff_exp(d)
    out = _top(d, n_vocab)
    for i in range(d.n_layer):
        p = f"blk.{i}."
        out += [
            (p + "attn_norm.weight", (d.n_embd,)),
            (p + "attn_q.weight", (d.n_embd, d.n_head * (nope + ROPE_MLA))),
            (p + "attn_kv_a_mqa.weight", (d.n_embd, lora + ROPE_MLA)),
            (p + "attn_kv_a_norm.weight", (lora,)),
            (p + "attn_k_b.weight", (nope, lora, d.n_head)),
            (p + "attn_v_b.weight", (lora, d.head_dim, d.n_head)),
            (p + "attn_output.weight", (d.n_head * d.head_dim, d.n_embd)),
        ]
        if i < 1:
            out += _ffn(d, i)
        else:
            out += _experts(d, i) + [
                (p + "exp_probs_b.bias", (d.n_expert,)),
                (p + "ffn_gate_shexp.weight", (d.n_embd, ff)),
                (p + "ffn_up_shexp.weight", (d.n_embd, ff)),
                (p + "ffn_down_shexp.weight", (ff, d.n_embd)),
            ]
    return out


# -- granitehybrid (Mamba-2 layers with a few attention layers) --------------------------------

SSM_STATE, SSM_CONV, SSM_GROUPS = 64, 4, 1


def _attention_layers(d: Dims) -> list[bool]:
    """One attention layer in four (Granite 4.0-H has one in ten), the rest Mamba-2."""
    return [i % 4 == 3 for i in range(d.n_layer)]


def _ssm_heads(d: Dims) -> int:
    return 2 * d.n_embd // d.head_dim


def _granitehybrid_keys(d: Dims) -> dict:
    return {
        **_common(d),
        "attention.head_count_kv": [d.n_head_kv if a else 0 for a in _attention_layers(d)],
        "ssm.conv_kernel": SSM_CONV,
        "ssm.state_size": SSM_STATE,
        "ssm.group_count": SSM_GROUPS,
        "ssm.inner_size": 2 * d.n_embd,
        "ssm.time_step_rank": _ssm_heads(d),
        "attention.scale": 1.0 / d.head_dim,
        "embedding_scale": 1.0,
        "residual_scale": 1.0,
        "logit_scale": 1.0,
    }


def _granitehybrid(d: Dims, n_vocab: int) -> Tensors:
    inner, heads = 2 * d.n_embd, _ssm_heads(d)
    xbc = inner + 2 * SSM_GROUPS * SSM_STATE
    out = _top(d, n_vocab)
    for i, attention in enumerate(_attention_layers(d)):
        p = f"blk.{i}."
        if attention:
            out += _attention(d, i)
        else:
            out += [
                (p + "attn_norm.weight", (d.n_embd,)),
                (p + "ssm_in.weight", (d.n_embd, inner + xbc + heads)),
                (p + "ssm_conv1d.weight", (SSM_CONV, xbc)),
                (p + "ssm_conv1d.bias", (xbc,)),
                (p + "ssm_dt.bias", (heads,)),
                (p + "ssm_a", (1, heads)),
                (p + "ssm_d", (1, heads)),
                (p + "ssm_norm.weight", (inner // SSM_GROUPS, SSM_GROUPS)),
                (p + "ssm_out.weight", (inner, d.n_embd)),
            ]
        out += _ffn(d, i)
    return out


def _with_moe(keys: Callable[[Dims], dict]) -> Callable[[Dims], dict]:
    return lambda d: {**keys(d), **_moe_keys(d)}


ARCHS: dict[str, Arch] = {
    a.name: a
    for a in (
        Arch("llama", _common, _llama),
        Arch("qwen3", _common, _qwen3),
        Arch("gemma3", _gemma3_keys, _gemma3),
        Arch("qwen3moe", _with_moe(_common), _qwen3moe),
        Arch("deepseek2", _deepseek2_keys, _deepseek2),
        Arch("granitehybrid", _granitehybrid_keys, _granitehybrid),
        Arch("gpt-oss", _gpt_oss_keys, _gpt_oss, tied_output=False),
    )
}
