"""The llama.cpp engine: load a GGUF, stream a chat answer, stop at once when asked.

Plain Python over llama-cpp-python. One ``Engine`` belongs to one thread at a time (a
``Llama`` object is not thread-safe); the UI runs it in a worker thread, the CLI in the main one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core.common.errors import (
    ContextFullError,
    GenerationError,
    LoadCancelled,
    ModelLoadError,
    UnsupportedRequest,
)
from app.core.compat.llama_cpp import (
    abort_callback,
    attach_projector,
    chat_handler_names,
    image_tokens,
    is_end_of_generation,
    load_progress,
    n_ctx_train,
    on_each_sample,
    recent_log,
    route_log_to_logging,
    set_abort_callback,
    start_drafting,
    token_text,
)
from app.core.config import presets
from app.core.gguf import check, info
from app.core.inference import images
from app.core.inference.image_pixels import rgb_pixels
from app.core.inference.prompt_lookup import PromptLookup
from app.core.inference.sampling import llama_kwargs
from app.core.inference.types import (
    AUTO_DRAFT,
    AUTO_LAYERS,
    DRAFT_TOKENS,
    KV_TYPES,
    GenerationStats,
    LoadedModel,
    LoadOptions,
    SamplingOptions,
    stopped_stats,
)
from app.core.templates import render

if TYPE_CHECKING:  # llama.cpp is loaded with the first model, not with this module
    import llama_cpp

    from app.core.inference.draft_model import ModelDrafter
    from app.core.inference.embedding import Embedder

log = logging.getLogger("hearth.engine")


FALLBACK_TEMPLATE = "chatml"


class Engine:
    """Holds at most one loaded model."""

    def __init__(self) -> None:
        self._llm: llama_cpp.Llama | None = None
        self._loaded: LoadedModel | None = None
        self._stop = threading.Event()
        self._request_stop: threading.Event | None = None  # the running request's own stop
        self._abort_cb: Any = None  # keeps the ctypes callback alive
        self._sampled = 0  # tokens llama.cpp has sampled since the model was loaded
        self._last_sampled = -1
        # Made on the first embedding asked for (app.core.inference.embedding).
        self._embedder: Embedder | None = None
        self._drafter: ModelDrafter | None = None  # the draft model, loaded beside the model

    @staticmethod
    def default_threads() -> int:
        """One thread per physical core but one, left for the window and the rest of the desktop.

        llama.cpp's threads wait for each other by spinning: when one of them loses its core to
        another program, all of them stall (measured here on 2 cores: 73 tok/s with 2 threads on
        a quiet machine, under 1 tok/s with 2 threads beside another busy process, 57 tok/s
        with 1 thread). The thread count is a per-model setting for users who want every core.
        """
        import os

        import psutil

        return max(1, (psutil.cpu_count(logical=False) or os.cpu_count() or 2) - 1)

    @property
    def loaded(self) -> LoadedModel | None:
        return self._loaded

    def load(
        self,
        path: Path,
        options: LoadOptions = LoadOptions(),
        progress: Callable[[float], None] | None = None,
        cancel: threading.Event | None = None,
        stage: Callable[[str], None] | None = None,
    ) -> LoadedModel:
        """Load ``path``, replacing any model already loaded.

        ``progress`` gets 0.0-1.0 as llama.cpp reads the weights; setting ``cancel`` stops the
        load (``LoadCancelled``). ``stage`` is told ``"projector"`` before the image projector
        is read, so that a crash from then on is blamed on the projector, not the model.
        """
        import llama_cpp

        path = Path(path)
        check.check_file(path)  # Hearth's own check, before llama.cpp reads a byte
        if options.mmproj_path:
            check.check_projector(Path(options.mmproj_path))
        self.unload()
        route_log_to_logging()
        n_ctx = options.n_ctx
        if n_ctx <= 0:  # the model's own context length, capped
            n_ctx = presets.context_length(0, info.read_info(path).context_length)
        gpu_layers, verdict, cpu_moe = options.n_gpu_layers, "", options.n_cpu_moe
        if gpu_layers == AUTO_LAYERS:
            gpu_layers, verdict, cpu_moe = auto_gpu_layers(
                path,
                n_ctx,
                options.kv_type,
                options.mmproj_path,
                # drafting's logits; Auto's only if it turns drafting on, where they fit then
                drafting=options.draft_tokens > 0 or bool(options.draft_model_path),
            )
        experts_in_ram: tuple[str, ...] = ()
        if cpu_moe > 0:  # tensor buffer overrides, as llama.cpp's --n-cpu-moe
            from app.core.fit.estimate import cpu_expert_patterns

            experts_in_ram = cpu_expert_patterns(cpu_moe)
        kwargs: dict[str, Any] = dict(  # Llama's own keyword arguments, checked by it
            model_path=str(path),
            n_ctx=n_ctx,
            n_gpu_layers=gpu_layers,
            n_batch=min(options.n_batch, n_ctx),
            verbose=True,
            flash_attn=options.flash_attn or options.kv_type != "f16",  # needed by q8_0/q4_0 V
        )
        threads = options.n_threads if options.n_threads > 0 else self.default_threads()
        kwargs.update(n_threads=threads, n_threads_batch=threads)
        if options.kv_type != "f16":
            kwargs.update(type_k=KV_TYPES[options.kv_type], type_v=KV_TYPES[options.kv_type])
        if options.lora_path:  # checked first: llama.cpp ends the process on a mismatched one
            from app.core.gguf.adapter import check_fits

            check_fits(Path(options.lora_path), path)
            kwargs.update(lora_path=options.lora_path, lora_scale=options.lora_scale)
        drafter = None
        if options.draft_model_path:  # its header checks before either model is read
            from app.core.inference.draft_model import ModelDrafter

            drafter = ModelDrafter.open(
                Path(options.draft_model_path),
                path,
                n_ctx=n_ctx,
                threads=threads,
                gpu_layers=gpu_layers,
                tokens=options.draft_tokens if options.draft_tokens > 0 else DRAFT_TOKENS,
            )
            kwargs.update(draft_model=drafter, logits_all=True)  # logits_all: as below
        elif options.draft_tokens > 0:  # (AUTO_DRAFT: decided once loaded, below)
            # logits_all: without it llama-cpp-python keeps n_batch rows of logits and fails
            # once the chat passes n_batch tokens ("could not broadcast"). It keeps a row of
            # n_vocab floats per token in the context (0.2 MB a token for the starter model).
            kwargs.update(draft_model=PromptLookup(options.draft_tokens), logits_all=True)
        started = time.perf_counter()
        chatter = io.StringIO()
        try:
            # llama-cpp-python prints template notes to sys.stderr when verbose: keep them in
            # the log instead (llama.cpp's own log goes through compat.llama_cpp).
            with (
                contextlib.redirect_stderr(chatter),
                load_progress(progress, cancel, experts_in_ram),
                render.guarded_formatters(),
            ):  # its handlers render under the budget
                llm = llama_cpp.Llama(**kwargs)
        except (ValueError, RuntimeError, OSError) as exc:
            if drafter is not None:
                drafter.close()
            if cancel is not None and cancel.is_set():
                raise LoadCancelled(f"Loading {path.name} was cancelled.") from exc
            raise ModelLoadError(_load_message(path, exc)) from exc
        finally:
            if chatter.getvalue():
                log.debug("llama-cpp-python: %s", chatter.getvalue().strip())
        llm.verbose = False  # no more Python-side prints while generating
        if drafter is not None:
            try:
                drafter.check_vocabulary(llm, path)
            except ModelLoadError:
                drafter.close()
                llm.close()
                raise
        self._drafter = drafter
        draft_tokens = options.draft_tokens if drafter is None else 0
        auto_reason = ""
        if draft_tokens == AUTO_DRAFT:
            draft_tokens, auto_reason = self._auto_draft(llm, path, threads, gpu_layers)
        has_template = "chat_template.default" in chat_handler_names(llm)
        # Always the model's own template (sandboxed Jinja), never a guessed built-in format.
        llm.chat_format = "chat_template.default" if has_template else FALLBACK_TEMPLATE
        llm.chat_handler = None
        if options.mmproj_path:  # the image projector: its handler renders and encodes chats
            if stage is not None:
                stage("projector")
            try:
                attach_projector(llm, options.mmproj_path, rgb_pixels)
            except (ValueError, OSError) as exc:
                llm.close()
                raise ModelLoadError(
                    f"llama.cpp could not load the image projector "
                    f"{Path(options.mmproj_path).name} with {path.name}."
                ) from exc
        self._llm = llm
        self._count_samples(llm)
        self._install_abort_callback()
        self._loaded = LoadedModel(
            path=path,
            n_ctx=llm.n_ctx(),
            n_ctx_train=n_ctx_train(llm),
            has_chat_template=has_template,
            load_seconds=time.perf_counter() - started,
            gpu_layers=gpu_layers,
            fit_verdict=verdict,
            n_threads=threads,
            has_vision=bool(options.mmproj_path),
            draft_tokens=draft_tokens,
            draft_auto_reason=auto_reason,
        )
        log.info(
            "Loaded %s (n_ctx=%d) in %.2fs",
            path.name,
            self._loaded.n_ctx,
            self._loaded.load_seconds,
        )
        return self._loaded

    @staticmethod
    def _auto_draft(
        llm: llama_cpp.Llama, path: Path, threads: int, gpu_layers: int
    ) -> tuple[int, str]:
        """Drafting's Auto: DRAFT_TOKENS a step where a batch costs this machine little enough
        (``draft_policy``), else none; and why, for the user (Chat's status line). The model
        was loaded without drafting's logits."""
        from app.core.inference import draft_policy

        cost = draft_policy.batch_cost(llm, path, threads, gpu_layers)
        cheap = draft_policy.drafting_pays(cost)
        fits = draft_policy.logits_fit(llm.n_ctx(), llm.n_vocab())
        pays = cheap and fits
        reason = (
            f"a batch of {DRAFT_TOKENS + 1} tokens costs {cost:.1f} one-token decodes here "
            f"(drafting pays at {draft_policy.PAYS:g} or fewer)"
        )
        if cheap and not fits:
            reason += ", but drafting's logits would not fit in the memory free"
        log.info(
            "Drafting (auto) for %s: a batch of %d costs %.2f one-token decodes, %s",
            path.name,
            DRAFT_TOKENS + 1,
            cost,
            "on" if pays else "off",
        )
        if not pays:
            return 0, reason
        start_drafting(llm, PromptLookup(DRAFT_TOKENS))
        return DRAFT_TOKENS, reason

    def unload(self) -> None:
        if self._embedder is not None:
            self._embedder.close()
            self._embedder = None
        if self._drafter is not None:
            self._drafter.close()
            self._drafter = None
        if self._llm is not None:
            self._llm.close()
            self._llm = None
            self._loaded = None

    def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        """Embeddings of ``texts`` with the loaded model, and the tokens they took."""
        loaded = self._require_loaded()
        if self._embedder is None:
            from app.core.inference.embedding import Embedder

            self._embedder = Embedder(loaded.path, loaded.n_threads or 1)
        return self._embedder.embed(list(texts))

    def request_stop(self) -> None:
        """Thread-safe: stop the generation in progress within one token."""
        self._stop.set()

    def count_tokens(self, messages: Sequence[dict[str, Any]]) -> int:
        """Tokens the chat takes in the context, formatted by the model's template."""
        if images.has_images(messages):
            return self._count_with_images(messages)
        llm = self._require()
        prompt = chat_prompt(llm, list(messages), self._require_loaded().has_chat_template)
        return len(llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))

    def _count_with_images(self, messages: Sequence[dict[str, Any]]) -> int:
        """``count_tokens`` for messages holding images: the text as the template renders it,
        and each image's tokens as the projector's mtmd tokenizes it."""
        loaded = self._require_loaded()
        if not loaded.has_vision:
            raise UnsupportedRequest(images.no_projector_message(loaded.path.name))
        images.check_images(messages)  # data URLs only: the handler would fetch any other
        llm = self._require()
        text = self.count_tokens(images.text_only(messages))
        try:
            return text + sum(image_tokens(llm, url) for url in images.image_urls(messages))
        except ValueError as exc:
            raise images.image_chat_error(exc, llm.n_ctx()) from exc

    def fit_messages(
        self, messages: Sequence[dict[str, Any]], reserve: int, stop: threading.Event | None = None
    ) -> list[dict[str, Any]]:
        """Drop the oldest turns (never the system prompt or the last message) until the chat
        and ``reserve`` tokens for the answer fit in the context. Setting ``stop`` ends the
        search early (the chat that follows then stops before it starts)."""
        kept = list(messages)
        limit = self._require().n_ctx()
        while self.count_tokens(kept) + reserve > limit:
            if stop is not None and stop.is_set():
                return kept
            first = 1 if kept and kept[0]["role"] == "system" else 0
            if len(kept) - first <= 1:
                raise ContextFullError(self.count_tokens(kept) + reserve, limit)
            del kept[first]
        return kept

    def chat(
        self,
        messages: Sequence[dict[str, Any]],
        sampling: SamplingOptions,
        on_token: Callable[[str], None],
        stop: threading.Event | None = None,
    ) -> GenerationStats:
        """Stream an answer to ``messages``, calling ``on_token`` with each piece of text."""
        if images.has_images(messages):
            return self._chat_with_images(messages, sampling, on_token, stop)
        llm = self._require()
        reserve = min(max(sampling.max_tokens, 1), 64)
        self._stop.clear()  # before the template is applied: a Stop from then on counts
        self._request_stop = stop
        prompt_tokens = self.count_tokens(messages)
        if stop is not None and stop.is_set():  # stopped while the chat was prepared
            return stopped_stats(prompt_tokens)
        if prompt_tokens + reserve > llm.n_ctx():
            raise ContextFullError(prompt_tokens + reserve, llm.n_ctx())
        self._fresh_if_repeatable(sampling)
        stream = llm.create_chat_completion(
            # Plain {"role", "content"} dicts, the shape its message TypedDicts describe.
            messages=list(messages),  # type: ignore[arg-type]
            stream=True,
            **llama_kwargs(sampling, llm.n_vocab()),
        )
        return self._consume(
            stream, lambda choice: choice["delta"].get("content"), prompt_tokens, on_token, stop
        )

    def _chat_with_images(
        self,
        messages: Sequence[dict[str, Any]],
        sampling: SamplingOptions,
        on_token: Callable[[str], None],
        stop: threading.Event | None,
    ) -> GenerationStats:
        """``chat`` for messages holding images (OpenAI ``image_url`` parts, data URLs). The
        projector's handler renders the chat, encodes each image to its embeddings and
        evaluates the whole prompt before the stream starts; the prompt's tokens, text and
        image, are counted first (to refuse a chat past the context) and taken from the
        context once evaluated."""
        llm = self._require()
        reserve = min(max(sampling.max_tokens, 1), 64)
        self._stop.clear()
        self._request_stop = stop
        prompt_tokens = self._count_with_images(messages)  # refuses what it cannot take
        if stop is not None and stop.is_set():
            return stopped_stats(prompt_tokens)
        if prompt_tokens + reserve > llm.n_ctx():
            raise ContextFullError(prompt_tokens + reserve, llm.n_ctx())
        self._abort_during_decode(True)  # encoding and the prompt: Stop cuts them short
        chatter = io.StringIO()
        try:
            with contextlib.redirect_stderr(chatter):  # the handler prints the prompt
                stream = llm.create_chat_completion(
                    messages=list(messages),  # type: ignore[arg-type]  # its TypedDicts' shape
                    stream=True,
                    **llama_kwargs(sampling, llm.n_vocab()),
                )
        except (*_abort_errors(), *images.render_errors()) as exc:
            if self._stop.is_set() or (stop is not None and stop.is_set()):
                return stopped_stats(prompt_tokens)
            raise images.image_chat_error(exc, llm.n_ctx()) from exc
        finally:
            if chatter.getvalue():
                log.debug("llama-cpp-python: %s", chatter.getvalue().strip())
        return self._consume(
            stream, lambda choice: choice["delta"].get("content"), llm.n_tokens, on_token, stop
        )

    def complete(
        self,
        prompt: str,
        sampling: SamplingOptions,
        on_token: Callable[[str], None],
        stop: threading.Event | None = None,
    ) -> GenerationStats:
        """Stream a raw continuation of ``prompt`` (no chat template), as ``chat`` does."""
        llm = self._require()
        reserve = min(max(sampling.max_tokens, 1), 64)
        self._stop.clear()
        self._request_stop = stop
        prompt_tokens = len(llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True))
        if stop is not None and stop.is_set():
            return stopped_stats(prompt_tokens)
        if prompt_tokens + reserve > llm.n_ctx():
            raise ContextFullError(prompt_tokens + reserve, llm.n_ctx())
        self._fresh_if_repeatable(sampling)
        stream = llm.create_completion(
            prompt=prompt, stream=True, **llama_kwargs(sampling, llm.n_vocab())
        )
        return self._consume(
            stream, lambda choice: choice.get("text"), prompt_tokens, on_token, stop
        )

    def _consume(
        self,
        stream: Any,  # llama-cpp-python's chunk generator (typed as a union with one answer)
        text_of: Callable[[dict[str, Any]], str | None],
        prompt_tokens: int,
        on_token: Callable[[str], None],
        stop: threading.Event | None,
    ) -> GenerationStats:
        """Pass a llama-cpp-python stream's text to ``on_token`` until it ends or is stopped."""
        llm = self._require()
        lookup = llm.draft_model
        if isinstance(lookup, PromptLookup):  # it guesses from the prompt, not from the answer
            lookup.start_answer()
        stop_flags = (self._stop,) if stop is None else (self._stop, stop)
        started = time.perf_counter()
        first = None
        sampled_before = self._sampled
        reason = "stop"
        self._abort_during_decode(True)  # the prompt: one long decode that Stop can cut short
        answering = False
        try:
            for chunk in stream:
                if not answering:  # the prompt is in: one token per decode from here on
                    answering = True
                    self._abort_during_decode(False)
                if any(flag.is_set() for flag in stop_flags):
                    reason = "user"
                    break
                choice = chunk["choices"][0]
                text = text_of(choice)
                if text:
                    if first is None:
                        first = time.perf_counter()
                    on_token(text)
                if choice.get("finish_reason"):
                    reason = choice["finish_reason"]
        except _abort_errors() as exc:
            if not any(flag.is_set() for flag in stop_flags):
                raise GenerationError(f"Generation failed: {exc}") from exc
            reason = "user"
        finally:
            stream.close()
        ended = time.perf_counter()
        first = first or ended
        tokens = self._sampled - sampled_before
        if tokens and self._ends_turn(self._last_sampled):  # not part of the answer
            tokens -= 1
        return GenerationStats(
            tokens=tokens,
            prompt_tokens=prompt_tokens,
            time_to_first_token_s=first - started,
            generation_s=ended - first,
            stop_reason=reason,
            context_used=llm.n_tokens,
            context_size=llm.n_ctx(),
        )

    def _fresh_if_repeatable(self, sampling: SamplingOptions) -> None:
        """Evaluate the whole prompt again when the answer is meant to repeat (temperature 0,
        or a fixed seed): with the prompt cache, the repeat evaluates only the prompt's tail,
        in a batch of another size, whose slightly different logits can turn a greedy answer
        (measured on the starter model: 2 of 8 questions answered differently the second
        time). The cost is the prompt's evaluation for these requests alone."""
        if sampling.temperature == 0 or sampling.seed >= 0:
            self._require().reset()  # type: ignore[no-untyped-call]  # llama-cpp-python's

    def _count_samples(self, llm: llama_cpp.Llama) -> None:
        """Count the tokens llama.cpp samples, for a generation's token count: the stream's
        chunks are pieces of text, and a character made of several tokens (Japanese, emoji)
        comes as one chunk (12 chunks for 20 tokens of Japanese). ``Llama.generate`` samples
        each token through ``self.sample``: ``on_each_sample`` hooks it for this model."""

        def counted(token: int) -> None:
            self._sampled += 1
            self._last_sampled = token

        on_each_sample(llm, counted)

    def _ends_turn(self, token: int) -> bool:
        """True for a token that ends the model's turn (sampled, but no part of the answer)."""
        return is_end_of_generation(self._require(), token)

    def _require(self) -> llama_cpp.Llama:
        if self._llm is None:
            raise GenerationError("No model is loaded.")
        return self._llm

    def _require_loaded(self) -> LoadedModel:
        if self._loaded is None:
            raise GenerationError("No model is loaded.")
        return self._loaded

    def _install_abort_callback(self) -> None:
        """Let Stop interrupt llama.cpp inside a long prompt evaluation, not only between tokens."""
        stop = self._stop

        def should_abort() -> bool:
            request = self._request_stop
            return stop.is_set() or (request is not None and request.is_set())

        self._abort_cb = abort_callback(should_abort)
        self._abort_during_decode(True)

    def _abort_during_decode(self, on: bool) -> None:
        """Turn the abort callback on or off for the next decodes.

        llama.cpp calls it after every node of the graph (~600 a token for the starter model),
        each call taking the interpreter lock: fine for the prompt, where it makes Stop work
        mid-decode, but while answering it would contend with the GUI thread for the lock on
        every token. Between tokens Stop is seen by ``_consume``'s own loop instead."""
        set_abort_callback(self._require(), self._abort_cb if on else None)


def auto_gpu_layers(
    path: Path, n_ctx: int, kv_type: str, mmproj: str = "", drafting: bool = False
) -> tuple[int, str, int]:
    """As many layers on the GPU as fit this machine (app.core.fit.estimate), with the verdict
    and the layers whose experts stay in RAM; ``drafting`` counts the logits it keeps."""
    from app.core.fit import estimate
    from app.core.hardware import probe

    shape = estimate.shape_from_file(path)
    if mmproj:  # the image projector loads beside the model
        shape = dataclasses.replace(shape, projector_bytes=Path(mmproj).stat().st_size)
    if drafting:
        shape = dataclasses.replace(shape, all_logits=True)
    machine = estimate.Machine.from_report(probe.probe(path.parent))
    verdict = estimate.plan(shape, machine, n_ctx, kv_type)
    log.info(
        "GPU layers for %s at %d tokens: %d (%s)",
        path.name,
        n_ctx,
        verdict.gpu_layers,
        verdict.verdict,
    )
    return verdict.gpu_layers, verdict.verdict, verdict.cpu_moe_layers


def chat_prompt(llm: llama_cpp.Llama, messages: list[dict[str, Any]], has_template: bool) -> str:
    """The text the model sees for ``messages``, as llama-cpp-python formats it (the model's
    template in the guarded sandbox, under the budget: ``chat_template.formatter``)."""
    from llama_cpp import llama_chat_format

    if has_template:
        eos = token_text(llm, llm.token_eos()) if llm.token_eos() != -1 else ""
        bos = token_text(llm, llm.token_bos()) if llm.token_bos() != -1 else ""
        formatter = render.formatter(llm.metadata["tokenizer.chat_template"], eos, bos)
        return str(formatter(messages=messages).prompt)
    return str(llama_chat_format.format_chatml(messages=messages).prompt)


def _abort_errors() -> tuple[type[BaseException], ...]:
    return (RuntimeError, ValueError)


def _load_message(path: Path, exc: Exception) -> str:
    detail = str(exc)
    if "unknown model architecture" in recent_log().lower():
        return (
            f"{path.name} uses a model architecture this llama.cpp build does not support. "
            "Updating Hearth's llama.cpp may help."
        )
    if "alloc" in recent_log().lower() or "memory" in detail.lower():
        return (
            f"Not enough memory to load {path.name}. Try a smaller quant, a shorter context, "
            "or fewer GPU layers."
        )
    return f"llama.cpp could not load {path.name}: the file may be damaged or incomplete."
