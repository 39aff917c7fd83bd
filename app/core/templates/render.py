"""Every chat-template compile and render, under one budget, failing with one sentence.

Three places render a model's template: Hearth's check of a file (``gguf_check``), the count of
a chat's tokens (``engine.chat_prompt``) and llama-cpp-python's own chat handler, used by
``create_chat_completion``. All three use the guarded sandbox
(:mod:`app.core.templates.sandbox`) under a :class:`~app.core.templates.budget.Budget`:
llama-cpp-python's ``Llama`` builds its handlers with :class:`GuardedChatFormatter` instead of
its own ``Jinja2ChatFormatter`` (:func:`guarded_formatters`, for the duration of a load), so a
template never runs unguarded, even when it behaves differently on the user's text than on the
check's samples. A render that fails, breaks the budget or produces nothing raises a
``GenerationError`` with a sentence, never a traceback.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any, NoReturn

from app.core.common.errors import GenerationError, InvalidModelFile
from app.core.compat.llama_cpp import chat_formatter_class, chat_formatter_swapped
from app.core.templates.budget import (
    MAX_TEMPLATE_CHARS,
    TEMPLATE_MEMORY,
    TEMPLATE_SECONDS,
    Budget,
    TemplateLimit,
    for_input,
    item_limit,
)
from app.core.templates.sandbox import TOO_LONG, guarded_sandbox

if TYPE_CHECKING:  # jinja2 is imported when a template is first compiled
    from jinja2 import Template

UNSAFE = (
    "Its chat template is unsafe or broken, so Hearth will not use this file: {problem}. "
    "Get the model from another source."
)
EMPTY = "it renders an empty prompt"


class TemplateFailure(Exception):
    """A template could not be compiled or rendered; ``problem`` says why ("it fails on a
    plain conversation (...)"), to be put in a sentence by the caller."""

    def __init__(self, problem: str, *, refused: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.refused = refused  # the template's own raise_exception message, if it raised one


def compile_guarded(template: str, seconds: float = TEMPLATE_SECONDS) -> Template:
    """``template`` compiled in the guarded sandbox, under the budget (Jinja folds constants
    while compiling)."""
    from jinja2.exceptions import SecurityError, TemplateSyntaxError

    if len(template) > MAX_TEMPLATE_CHARS:
        raise TemplateFailure(
            f"it is {len(template):,} characters long (at most {MAX_TEMPLATE_CHARS:,})"
        )
    try:
        # Built once per process, outside the budget: it imports jinja2 and llama_cpp (4.3 s
        # on a busy 2-core machine), which made the first check refuse a good model as slow.
        sandbox = guarded_sandbox()
        with Budget(seconds):
            compiled: Template = sandbox().from_string(template)
            return compiled
    except TemplateSyntaxError as exc:
        raise TemplateFailure(f"it is not valid Jinja ({exc.message}, line {exc.lineno})") from None
    except SecurityError as exc:
        raise TemplateFailure(f"it tries to leave the template sandbox ({exc})") from None
    except TemplateLimit as exc:
        raise TemplateFailure(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - untrusted text: any error is "broken"
        raise TemplateFailure(f"it cannot be compiled ({describe(exc)})") from None


def render_guarded(
    compiled: Template, context: dict[str, Any], seconds: float = TEMPLATE_SECONDS
) -> str:
    """``compiled`` rendered with ``context`` under the budget; the time, memory and size
    limits grow with the length of the messages (a long message is not a bomb)."""
    from jinja2.exceptions import SecurityError

    chars = sum(
        len(str(m.get("content") or "")) if isinstance(m, dict) else len(str(m))
        for m in context.get("messages") or ()
    )
    refused: list[str] = []

    def raise_exception(message: str) -> NoReturn:
        refused.append(str(message))
        raise ValueError(message)

    context = {**context, "raise_exception": raise_exception}
    try:
        with for_input(chars):
            with Budget(seconds + chars / 10**7, TEMPLATE_MEMORY + 8 * chars):
                prompt = compiled.render(**context)
            if len(prompt) > item_limit():
                raise TemplateLimit(TOO_LONG)
    except SecurityError as exc:
        raise TemplateFailure(f"it tries to leave the template sandbox ({exc})") from None
    except TemplateLimit as exc:
        raise TemplateFailure(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - untrusted code: any error is "broken"
        raise TemplateFailure(
            f"it fails ({describe(exc)})", refused=refused[-1] if refused else ""
        ) from None
    return prompt


def render_args(messages: list[dict[str, Any]], bos: str, eos: str) -> dict[str, Any]:
    """What llama-cpp-python's ``Jinja2ChatFormatter.__call__`` passes to a template."""
    return {
        "messages": messages,
        "eos_token": eos,
        "bos_token": bos,
        "add_generation_prompt": True,
        "functions": None,
        "function_call": None,
        "tools": None,
        "tool_choice": None,
        "strftime_now": lambda fmt: time.strftime(fmt),
    }


def describe(exc: BaseException | None) -> str:
    text = str(exc).strip().splitlines()[0][:160] if exc and str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def runtime_error(failure: TemplateFailure) -> GenerationError:
    """The sentence for a render that failed on the user's conversation."""
    if failure.refused:
        return GenerationError(
            f"The model's chat template refused this conversation: {failure.refused[:300]}"
        )
    return GenerationError(
        f"The model's chat template could not format this conversation "
        f"({failure.problem}), so nothing was sent to the model. Start a new "
        "chat, or use another model file."
    )


class _BudgetedTemplate:
    """Stands in for the compiled template inside ``Jinja2ChatFormatter``: its ``render`` is
    the guarded, budgeted one, and an empty prompt is an error here rather than an
    ``AssertionError`` inside llama-cpp-python."""

    def __init__(self, compiled: Template) -> None:
        self.compiled = compiled

    def render(self, **context: Any) -> str:
        try:
            prompt = render_guarded(self.compiled, context)
        except TemplateFailure as failure:
            raise runtime_error(failure) from None
        if not prompt:
            raise runtime_error(TemplateFailure(EMPTY))
        return prompt


@cache
def guarded_formatter_class() -> type[Any]:
    """``GuardedChatFormatter``: llama-cpp-python's ``Jinja2ChatFormatter`` (same response:
    prompt, stop at the end-of-sequence token, stop token ids) over the guarded sandbox."""

    class GuardedChatFormatter(chat_formatter_class()):  # type: ignore[misc]
        def __init__(
            self,
            template: str,
            eos_token: str,
            bos_token: str,
            add_generation_prompt: bool = True,
            stop_token_ids: list[int] | None = None,
        ) -> None:
            # Not super().__init__: it compiles the template in an unguarded environment.
            self.template = template
            self.eos_token, self.bos_token = eos_token, bos_token
            self.add_generation_prompt = add_generation_prompt
            self.stop_token_ids = set(stop_token_ids) if stop_token_ids is not None else None
            try:
                # A stand-in for jinja2's Template: render() is all the formatter calls.
                self._environment = _BudgetedTemplate(compile_guarded(template))
            except TemplateFailure as failure:
                raise InvalidModelFile(UNSAFE.format(problem=failure.problem)) from None

    return GuardedChatFormatter


@lru_cache(maxsize=4)
def formatter(template: str, eos: str, bos: str) -> Any:
    """A guarded formatter for ``template``, compiled once (a chat counts its tokens often)."""
    return guarded_formatter_class()(template=template, eos_token=eos, bos_token=bos)


@contextlib.contextmanager
def guarded_formatters() -> Iterator[None]:
    """While a ``Llama`` is built: its chat handlers get :class:`GuardedChatFormatter`.

    ``Llama.__init__`` compiles every template in the file's metadata with
    ``llama_chat_format.Jinja2ChatFormatter``, looked up on the module at call time; swapping
    that name for the load is the only way in (``compat.llama_cpp``)."""
    with chat_formatter_swapped(guarded_formatter_class()):
        yield
