"""Hostile chat templates at run time: every render runs under one budget, fails in a sentence.

The check (``gguf_check.template_problem``) renders a template on sample chats; a template can
behave differently on the user's text, or hide its bomb where the samples never go (Jinja's
compiler folds constants even in dead code). Here the real engine on sparse copies of the real
starter model with such templates: loading never hangs, and the first message gets one
``GenerationError`` sentence, never a traceback, an abort or a hang. A fuzzer then generates
hostile templates (deep nesting, big numbers, big repeats, loops, filters) for both renders.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.common.errors import GenerationError, InvalidModelFile
from app.core.gguf import check
from app.core.gguf.header import read_local_header
from app.core.inference.engine import Engine
from app.core.inference.types import LoadOptions, SamplingOptions
from app.core.templates import render
from tests.faults import gguf_forge as g
from tests.faults.fuzzing import fuzzed
from tests.faults.tally import CrashDetected, Tally

pytestmark = pytest.mark.faults

HEARTH = Path(sys.executable).with_name("hearth")
ONE_TOKEN = SamplingOptions(temperature=0.0, max_tokens=2, seed=1)
TURN = "<|im_start|>{{m.role}}\n{{m.content}}<|im_end|>\n"
CHATML = "{% for m in messages %}" + TURN + "{% endfor %}<|im_start|>assistant\n"


def on_boom(bomb: str) -> str:
    """A ChatML template that sets ``bomb`` off only when a message says "boom"."""
    return (
        "{% for m in messages %}{% if 'boom' in m.content %}"
        + bomb
        + "{% endif %}"
        + TURN
        + "{% endfor %}<|im_start|>assistant\n"
    )


# name -> template; each passes the check, then must fail on "boom" with a sentence
ON_THE_USERS_TEXT = {
    "a 2 GB repeat (std::bad_alloc)": on_boom("{{ 'x' * 2000000000 }}"),
    "a repeat past the index size (OverflowError)": on_boom("{{ 'x' * 10**19 }}"),
    "an unsafe attribute (SecurityError)": on_boom("{{ m.__class__.__mro__ }}"),
    "an empty prompt (AssertionError in llama-cpp-python)": (
        "{% if 'boom' not in messages[-1].content %}" + CHATML + "{% endif %}"
    ),
    "a refusal of its own": on_boom("{{ raise_exception('no booms here') }}"),
    "a time bomb": on_boom(
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    ),
}
# name -> template; dead code the samples never reach, folded by Jinja's compiler at load
FOLDED = {
    "a power": "{% if false %}{{ 7 ** 123456789 }}{% endif %}" + CHATML,
    "a 2 GB repeat": "{% if false %}{{ 'x' * 2000000000 }}{% endif %}" + CHATML,
    "replaces": "{% if false %}{{'a'"
    + "|replace('a','aaaaaaaaaaaaaaaa')" * 7
    + "}}{% endif %}"
    + CHATML,
}


@pytest.fixture(scope="module")
def template_files(tmp_path_factory: pytest.TempPathFactory, starter_gguf: Path) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("templates")
    original = read_local_header(starter_gguf).get("tokenizer.chat_template").encode()
    files = {}
    for index, (name, template) in enumerate({**ON_THE_USERS_TEXT, **FOLDED}.items()):
        patch = {original: g.same_length(template, len(original)).encode()}
        files[name] = g.real_copy(starter_gguf, folder / f"template-{index:02d}.gguf", patch=patch)
    return files


@pytest.fixture(scope="module")
def engine():
    engine = Engine()
    yield engine
    engine.unload()


def chat(engine: Engine, text: str) -> int:
    """Tokens of the prompt the model was given for ``text`` (then answered, in 2 tokens)."""
    return engine.chat([{"role": "user", "content": text}], ONE_TOKEN, lambda _: None).prompt_tokens


@pytest.mark.parametrize("name", ON_THE_USERS_TEXT)
def test_a_template_failing_on_the_users_text_fails_in_one_sentence(
    template_files: dict[str, Path], engine: Engine, faults: Tally, name: str
) -> None:
    with faults.inject(f"chat template at run time: {name}"):
        assert check.template_problem(ON_THE_USERS_TEXT[name]) is None  # the check passes
        engine.load(template_files[name], LoadOptions(n_ctx=512, n_threads=1))
        assert chat(engine, "hello")  # a plain message is answered

        with pytest.raises(GenerationError) as failed:
            chat(engine, "boom")

        message = str(failed.value)
        assert message.startswith("The model's chat template") and "\n" not in message
        assert "Traceback" not in message and len(message) < 400
        assert chat(engine, "hello again")  # and the model still answers


@pytest.mark.parametrize("name", FOLDED)
def test_a_bomb_in_dead_code_neither_hangs_the_check_nor_the_load(
    template_files: dict[str, Path], engine: Engine, faults: Tally, name: str
) -> None:
    """Refused by the check in a sentence, or harmless: loaded and answered."""
    with faults.inject(f"chat template folded at compile time: {name}"):
        problem = check.template_problem(FOLDED[name])
        if problem is not None:
            assert problem.startswith("it ") and "\n" not in problem, problem
            with pytest.raises(InvalidModelFile, match="chat template is unsafe or broken"):
                engine.load(template_files[name], LoadOptions(n_ctx=512, n_threads=1))
        else:
            engine.load(template_files[name], LoadOptions(n_ctx=512, n_threads=1))
            assert chat(engine, "hello")


def test_hearth_run_says_one_line_when_the_template_fails(
    template_files: dict[str, Path], tmp_path: Path, faults: Tally
) -> None:
    path = template_files["a repeat past the index size (OverflowError)"]
    env = {**os.environ, "HEARTH_HOME": str(tmp_path / "hearth"), "HF_HOME": str(tmp_path / "hf")}
    with faults.inject("chat template at run time: hearth run"):
        try:
            done = subprocess.run(
                [str(HEARTH), "run", str(path), "-p", "boom", "--max-tokens", "2"],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
                cwd=tmp_path,
            )
        except subprocess.TimeoutExpired as exc:
            raise CrashDetected("hearth run hung") from exc
        if done.returncode < 0 or "Traceback" in done.stderr:
            raise CrashDetected(f"hearth run crashed (exit {done.returncode}):\n{done.stderr}")
        lines = [
            line
            for line in done.stderr.splitlines()
            if line.strip() and not line.startswith("Loading ")
        ]
        assert done.returncode == 1, done.stderr
        assert len(lines) == 1 and "chat template" in lines[0], done.stderr


def test_llama_cpp_python_builds_its_handlers_with_the_guarded_formatter(
    starter_gguf: Path,
) -> None:
    """Pins the private way in (``llama_chat_format.Jinja2ChatFormatter``, looked up by
    ``Llama.__init__``) and the formatter's attributes the parent's ``__call__`` reads."""
    from llama_cpp import llama_chat_format

    original = llama_chat_format.Jinja2ChatFormatter
    formatter = render.formatter(CHATML, "</s>", "<s>")
    assert isinstance(formatter, original)
    response = formatter(messages=[{"role": "user", "content": "hi"}])
    assert response.prompt.endswith("<|im_start|>assistant") and response.stop == ["</s>"]
    with render.guarded_formatters():
        assert llama_chat_format.Jinja2ChatFormatter is render.guarded_formatter_class()
    assert llama_chat_format.Jinja2ChatFormatter is original


# -- the fuzzer ----------------------------------------------------------------------------------

BIG = st.sampled_from([0, 1, 7, 255, 256, 257, 10**6, 10**6 + 1, 2**31, 10**9, 10**19, -(10**9)])
TEXT = st.sampled_from(
    [
        "'x'",
        "'ab'",
        "'%s'",
        "'{0}'",
        "'\\t'",
        "'\\n'",
        "m.content",
        "messages",
        "[1, 2]",
        "(1, 'a')",
        "{'a': 1}",
        "range(3)",
    ]
)


def expressions(depth: int = 3) -> st.SearchStrategy[str]:
    def grow(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        pair = st.tuples(inner, inner)
        return st.one_of(
            pair.map(lambda p: f"({p[0]} * {p[1]})"),
            pair.map(lambda p: f"({p[0]} ** {p[1]})"),
            pair.map(lambda p: f"({p[0]} % {p[1]})"),
            pair.map(lambda p: f"({p[0]} ~ {p[1]})"),
            pair.map(lambda p: f"({p[0]} + {p[1]})"),
            pair.map(lambda p: f"[{p[0]}, {p[0]}, {p[1]}]"),
            st.tuples(
                inner,
                st.sampled_from(
                    [
                        "replace('a', 'aaaaaaaa')",
                        "join('xxxx')",
                        "indent(1000000)",
                        "center(1000000)",
                        "tojson",
                        "tojson(indent=1000000)",
                        "wordwrap(1)",
                        "list",
                        "string",
                        "format(1, 2)",
                        "batch(3)",
                        "sum",
                        "map('center', 999999)",
                        "length",
                        "first",
                    ]
                ),
            ).map(lambda p: f"({p[0]}|{p[1]})"),
            st.tuples(
                inner,
                st.sampled_from(
                    [
                        "center(1000000)",
                        "expandtabs(1000000)",
                        "replace('x', 'xxxxxxxxxx')",
                        "join(range(9))",
                        "format(1, 2)",
                        "zfill(999999)",
                        "split()",
                    ]
                ),
            ).map(lambda p: f"{p[0]}.{p[1]}"),
        )

    return st.recursive(st.one_of(BIG.map(str), TEXT), grow, max_leaves=depth * 3)


def statements() -> st.SearchStrategy[str]:
    expr = expressions()
    return st.recursive(
        expr.map(lambda e: "{{ " + e + " }}"),
        lambda inner: st.one_of(
            st.tuples(BIG, inner).map(
                lambda p: f"{{% for i in range({p[0]}) %}}{p[1]}{{% endfor %}}"
            ),
            st.tuples(st.sampled_from(["false", "true", "'boom' in m.content"]), inner).map(
                lambda p: f"{{% if {p[0]} %}}{p[1]}{{% endif %}}"
            ),
            st.tuples(expr, inner).map(
                lambda p: (
                    f"{{% set ns = namespace(x={p[0]}) %}}{{% set ns.x = ns.x ~ ns.x %}}{p[1]}"
                )
            ),
            st.lists(inner, min_size=2, max_size=3).map("".join),
            inner.map(lambda s: "{% for m in messages %}" + s + "{% endfor %}"),
        ),
        max_leaves=6,
    )


FUZZ_SECONDS = 0.5  # each render's time budget here; the limits on sizes are the real ones


@fuzzed(150)
@given(template=statements())
def test_fuzzed_templates_end_in_a_sentence(template: str, fault_tally: Tally) -> None:
    """The check and the run-time render of a generated hostile template both end within
    the budget, with a rendered prompt or a sentence, never another exception."""
    with fault_tally.inject(f"fuzzed chat template: {template[:60]}"):
        problem = check.template_problem(template, seconds=FUZZ_SECONDS)
        assert problem is None or (problem.startswith("it ") and "\n" not in problem), problem
        if problem is None:
            compiled = render.compile_guarded(template)
            for text in ("hello", "boom\t\n" * 1000):
                context = render.render_args([{"role": "user", "content": text}], "<s>", "</s>")
                try:
                    render.render_guarded(compiled, context, FUZZ_SECONDS)
                except render.TemplateFailure as failure:
                    message = str(render.runtime_error(failure))
                    assert message.startswith("The model's chat template"), message
                    assert "\n" not in message
