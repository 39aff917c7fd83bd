"""The value types of running a model, apart from the engine that runs it.

Load and sampling options (checked on creation: ``app.core.config.limits``), what a load gives,
a generation's stats, and the ``Backend`` protocol the API server answers through. Importing
them loads neither llama.cpp nor the GGUF checker: the API server, remote connections, the UI
and the CLI use these without the engine.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from app.core.config import limits
from app.core.config.sampling import Sampling

AUTO_LAYERS = -2  # n_gpu_layers: as many as the fit estimate says fit
KV_TYPES = {"f16": 1, "q8_0": 8, "q4_0": 2}  # KV cache types and their ggml_type values
DRAFT_TOKENS = 8  # drafted tokens a step when drafting is turned on without a count
AUTO_DRAFT = limits.AUTO_DRAFT  # draft_tokens: DRAFT_TOKENS where batches pay (draft_policy)


@dataclass(frozen=True)
class LoadOptions:
    n_ctx: int = 0  # 0 = the model's own context length, capped at presets.CONTEXT_CAP
    n_gpu_layers: int = -1  # -1 = every layer the build can offload; AUTO_LAYERS = as many as fit
    n_threads: int = 0  # 0 = llama.cpp's default
    flash_attn: bool = False
    kv_type: str = "f16"  # f16, q8_0, q4_0
    n_batch: int = 512
    n_cpu_moe: int = 0  # mixture of experts: the first N layers' experts stay in RAM (fit.plan)
    mmproj_path: str = ""  # the image projector (a repo's mmproj GGUF): the chat takes images
    # Prompt-lookup drafting: tokens guessed from the prompt per step; 0 = off, AUTO_DRAFT =
    # measured at load (draft_policy)
    draft_tokens: int = 0
    # A smaller model of the same family (its GGUF) guessing for this one, draft_tokens a step
    # (DRAFT_TOKENS when 0); "" = none. It takes the place of prompt lookup.
    draft_model_path: str = ""
    lora_path: str = ""  # a LoRA adapter (GGUF) applied to the model, at lora_scale (0 = none)
    lora_scale: float = 1.0

    def __post_init__(self) -> None:
        """Refuse what llama.cpp cannot take (``limits.InvalidValue``, one sentence); clamp
        threads to the machine's CPUs and GPU layers past any model's count to "all"."""
        limits.context(self.n_ctx)
        limits.batch(self.n_batch)
        if self.kv_type not in KV_TYPES:
            raise limits.InvalidValue(
                f"The KV cache type must be one of "
                f"{', '.join(KV_TYPES)}, not {str(self.kv_type)[:20]!r}."
            )
        object.__setattr__(self, "n_threads", limits.threads(self.n_threads))
        object.__setattr__(self, "n_gpu_layers", limits.gpu_layers(self.n_gpu_layers))
        limits.whole(
            self.n_cpu_moe, "The count of layers with experts in RAM", 0, limits.MAX_LAYERS
        )
        limits.draft_tokens(self.draft_tokens)
        limits.lora_scale(self.lora_scale)


@dataclass(frozen=True)
class SamplingOptions(Sampling):
    """What one request is sampled with: the user's ``Sampling`` (its fields, defaults and
    ranges declared there once) and what only an API request asks for."""

    # OpenAI's, for the API server: penalties on tokens already in the answer (-2 to 2)
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    logit_bias: tuple[tuple[int, float], ...] = ()  # (token id, -100 to 100) pairs
    response_format: str = "text"  # or "json_object", "json_schema" (then ``json_schema``)
    json_schema: str = ""  # the JSON schema's text, turned into a grammar by the engine

    def __post_init__(self) -> None:
        """Refuse a value out of llama.cpp's range (``limits.InvalidValue``): NaN, 1e308 or a
        negative temperature would reach the sampler as they are. ``logit_bias`` may come as
        a dict or as pairs in lists (its JSON form, on the way to the model's host)."""
        super().__post_init__()
        for name in ("presence_penalty", "frequency_penalty"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not -2.0 <= value <= 2.0:
                raise limits.InvalidValue(f"The {name.replace('_', ' ')} must be from -2 to 2.")
        bias = self.logit_bias
        pairs = bias.items() if isinstance(bias, dict) else bias
        try:
            pairs = tuple((int(token), float(value)) for token, value in pairs)
        except (TypeError, ValueError) as exc:
            raise limits.InvalidValue("The logit bias must map token ids to numbers.") from exc
        if any(token < 0 or not math.isfinite(v) or abs(v) > 100 for token, v in pairs):
            raise limits.InvalidValue(
                "The logit bias must map token ids (0 or more) to numbers from -100 to 100."
            )
        object.__setattr__(self, "logit_bias", pairs)
        if self.response_format not in ("text", "json_object", "json_schema"):
            raise limits.InvalidValue(
                "The response format must be text, json_object or json_schema."
            )
        if (self.response_format == "json_schema") != bool(self.json_schema):
            raise limits.InvalidValue("A JSON schema goes with the json_schema format alone.")

    @classmethod
    def of(cls, sampling: Sampling, **request: object) -> SamplingOptions:
        """``sampling``'s values, with a request's own (penalties, bias, format) added."""
        return cls(**asdict(sampling.sampling()), **request)  # type: ignore[arg-type]


@dataclass(frozen=True)
class LoadedModel:
    path: Path
    n_ctx: int
    n_ctx_train: int
    has_chat_template: bool
    load_seconds: float
    gpu_layers: int = -1
    fit_verdict: str = ""  # the fit estimator's verdict when GPU layers were chosen automatically
    n_threads: int = 0  # llama.cpp's threads for generation
    has_vision: bool = False  # loaded with an image projector: messages may hold images
    draft_tokens: int = 0  # prompt-lookup drafting as loaded (Auto decided): tokens a step
    # Drafting's Auto, where it decided at this load: why drafting is on or off here, in words
    # a user can check ("a batch of 9 tokens costs 2.6 one-token decodes here ..."); "" else
    draft_auto_reason: str = ""


@dataclass(frozen=True)
class GenerationStats:
    tokens: int
    prompt_tokens: int
    time_to_first_token_s: float
    generation_s: float
    stop_reason: str  # "stop" (model ended), "length" (max tokens), "user" (Stop pressed)
    context_used: int = 0  # tokens in the context after this answer
    context_size: int = 0

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.generation_s if self.generation_s > 0 else 0.0


def stopped_stats(prompt_tokens: int = 0) -> GenerationStats:
    """The stats of a request stopped before its first token."""
    return GenerationStats(
        tokens=0,
        prompt_tokens=prompt_tokens,
        time_to_first_token_s=0.0,
        generation_s=0.0,
        stop_reason="user",
    )


class Backend(Protocol):
    """Something that answers chats: the local engine behind a queue, or a remote server."""

    def model_name(self) -> str:
        """The model's name as clients see it; empty when no model is loaded."""

    def generate(
        self,
        messages: Sequence[dict[str, Any]],
        sampling: SamplingOptions,
        on_token: Callable[[str], None],
        stop_event: threading.Event | None = None,
    ) -> GenerationStats:
        """Stream one answer; setting ``stop_event`` ends it early (stop_reason "user")."""

    def complete(
        self,
        prompt: str,
        sampling: SamplingOptions,
        on_token: Callable[[str], None],
        stop_event: threading.Event | None = None,
    ) -> GenerationStats:
        """Stream a raw continuation of ``prompt`` (no chat template), as ``generate`` does."""

    def context_size(self) -> int:
        """The loaded model's context in tokens (0 when unknown), to refuse a request far too
        large for it before it waits for its turn."""
