"""Malformed and hostile GGUF files: refused by Hearth's own check before llama.cpp sees them.

Each file is written here with ``struct`` (``gguf_forge``), from scratch or as a sparse copy of
the real starter model with its header patched. ``gguf_check.check_file`` must refuse it with a
message naming the problem; ``hearth run FILE -p hi`` must exit 1 with a one-line message (no
traceback, no signal, no hang).
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from app.core.common.errors import InvalidModelFile
from app.core.gguf import check
from app.core.gguf.header import read_local_header
from tests.faults import gguf_forge as g
from tests.faults.tally import CrashDetected, Tally

pytestmark = pytest.mark.faults

HEARTH = Path(sys.executable).with_name("hearth")
CLI_TIMEOUT_S = 60


def without(key: str, kv: list | None = None) -> list:
    return [item for item in (kv or g.model_kv()) if item[0] != key]


def forged(data: bytes) -> Callable[[Path], bytes]:
    return lambda starter: data


def real(
    patch_template: str | None = None, *, size: int | None = None, cut: int = 0
) -> Callable[[Path], tuple]:
    """A sparse copy of the starter model: its template replaced, or cut to ``size`` bytes, or
    ``cut`` bytes short."""
    return lambda starter: ("real", patch_template, size or starter.stat().st_size - cut)


KV6 = b"".join(g.string(k) + struct.pack("<I", t) + g.value(t, v) for k, t, v in g.model_kv()[:6])
TWO = [g.Tensor("token_embd.weight", (32, 4)), g.Tensor("output_norm.weight", (32,))]
ESCAPE = "{{ cycler.__init__.__globals__.os.popen('id').read() }}"

# name -> (how to make the file, what the refusal must say)
CASES: dict[str, tuple[Callable, str]] = {
    "empty file": (forged(b""), r"empty \(0 bytes\)"),
    "bad magic": (forged(g.forge(magic=b"GGML")), r"does not start with 'GGUF'"),
    "version 1": (forged(g.forge(version=1)), r"GGUF version 1 is not supported"),
    "version 4": (forged(g.forge(version=4)), r"GGUF version 4 is not supported"),
    "big-endian": (forged(g.forge()[:4] + struct.pack(">I", 3) + g.forge()[8:]), r"big-endian"),
    "truncated header": (forged(g.forge()[:100]), r"truncated: its header is incomplete"),
    "real file cut inside its header": (
        real(size=1_000_000),
        r"cut short: the array tokenizer.ggml.merges",
    ),
    "huge key length": (
        forged(g.forge(raw_kv=g.string("general.architecture", length=2**40))),
        r"metadata key #1 claims a string length of 1,099,511,627,776",
    ),
    "key length past the end": (
        forged(g.forge(raw_kv=g.string("general.architecture", length=10_000_000))),
        r"string length of metadata key #1 claims 10,000,000 bytes, but the file ends",
    ),
    "huge string value": (
        forged(
            g.forge(
                kv=[("general.name", g.STRING, "x")],
                raw_kv=g.string("general.name") + struct.pack("<IQ", g.STRING, 2**62),
            )
        ),
        r"value of general.name claims a string length",
    ),
    "huge array length": (
        forged(
            g.forge(
                kv=g.model_kv()[:6] + [("tokenizer.ggml.tokens", g.ARRAY, (g.STRING, ["a"], 2**40))]
            )
        ),
        r"array tokenizer.ggml.tokens claims 1,099,511,627,776 items",
    ),
    "array past the end": (
        forged(
            g.forge(
                kv=g.model_kv()[:6]
                + [("tokenizer.ggml.scores", g.ARRAY, (g.F32, [0.0], 10_000_000))]
            )
        ),
        r"array tokenizer.ggml.scores \(10,000,000 items\) claims 40,000,000 bytes",
    ),
    "string in a short array past the end": (
        forged(
            g.forge(
                raw_kv=KV6
                + g.string("tokenizer.ggml.tokens")
                + struct.pack("<IIQ", g.ARRAY, g.STRING, 2)
                + g.string("a", length=10**6),
                n_kv=7,
            )
        ),
        r"the string length of an item of tokenizer.ggml.tokens claims 1,000,000 bytes, but the "
        r"file ends",
    ),
    "string in a long array past the end": (
        forged(
            g.forge(
                raw_kv=KV6
                + g.string("tokenizer.ggml.tokens")
                + struct.pack("<IIQ", g.ARRAY, g.STRING, 5000)
                + g.string("a", length=1 << 30),
                n_kv=7,
                data_size=60_000,
            )
        ),
        r"a string in the array tokenizer.ggml.tokens claims a length of 1,073,741,824",
    ),
    "huge tensor count": (forged(g.forge(n_tensors=2**40)), r"claims 1,099,511,627,776 tensors"),
    "huge key count": (forged(g.forge(n_kv=2**40)), r"claims 1,099,511,627,776 metadata keys"),
    "tensor offset past the end": (
        forged(g.forge(tensors=[TWO[0], g.Tensor("output_norm.weight", (32,), offset=1 << 40)])),
        r"tensor 'output_norm.weight' runs past the end of the file",
    ),
    "tensor size past the end": (
        forged(g.forge(tensors=[g.Tensor("token_embd.weight", (32, 1 << 30))], data_size=4096)),
        r"tensor 'token_embd.weight' runs past the end of the file",
    ),
    "real file cut short": (real(cut=4096), r"tensor '[\w.]+' runs past the end of the file"),
    "0 dimensions": (
        forged(g.forge(tensors=[g.Tensor("token_embd.weight", (), n_dims=0), TWO[1]])),
        r"tensor 'token_embd.weight' has 0 dimensions",
    ),
    "5 dimensions": (
        forged(g.forge(tensors=[g.Tensor("token_embd.weight", (32, 1, 1, 1, 1))])),
        r"tensor 'token_embd.weight' has 5 dimensions \(at most 4\)",
    ),
    "2**31 dimensions": (
        forged(g.forge(tensors=[g.Tensor("token_embd.weight", (32,), n_dims=2**31)])),
        r"has 2,147,483,648 dimensions",
    ),
    "unknown tensor type": (
        forged(g.forge(tensors=[g.Tensor("token_embd.weight", (32, 4), ggml_type=99)])),
        r"tensor 'token_embd.weight' has an unknown ggml type \(99\)",
    ),
    "removed tensor type": (
        forged(g.forge(tensors=[g.Tensor("token_embd.weight", (32, 4), ggml_type=4)])),
        r"unknown ggml type \(4\)",
    ),
    "rows not whole blocks": (
        forged(g.forge(tensors=[g.Tensor("token_embd.weight", (33, 4), ggml_type=g.Q8_0_TYPE)])),
        r"rows of tensor 'token_embd.weight' \(33 values\) are not whole blocks of 32",
    ),
    "duplicate key": (
        forged(g.forge(kv=g.model_kv() + [("general.architecture", g.STRING, "gpt2")])),
        r"key 'general.architecture' twice",
    ),
    "duplicate tensor name": (
        forged(g.forge(tensors=[TWO[0], TWO[0]])),
        r"tensor 'token_embd.weight' appears twice",
    ),
    "tensor name too long": (
        forged(g.forge(tensors=[g.Tensor("t" * 80, (32, 4))])),
        r"longer than 63 bytes",
    ),
    "misaligned data offset": (
        forged(g.forge(tensors=[TWO[0], g.Tensor("output_norm.weight", (32,), offset=516)])),
        r"data offset of tensor 'output_norm.weight' \(516\) is not aligned to 32 bytes",
    ),
    "alignment 0": (
        forged(g.forge(kv=without("general.alignment") + [("general.alignment", g.U32, 0)])),
        r"general.alignment is 0, not a power of two",
    ),
    "alignment of the wrong type": (
        forged(g.forge(kv=without("general.alignment") + [("general.alignment", g.U64, 32)])),
        r"key general.alignment has the wrong type \(u64, not u32\)",
    ),
    "overlapping tensors": (
        forged(g.forge(tensors=[TWO[0], g.Tensor("output_norm.weight", (32,), offset=256)])),
        r"data of tensors 'token_embd.weight' and 'output_norm.weight' overlap",
    ),
    "tokenizer arrays disagree": (
        forged(
            g.forge(
                kv=without("tokenizer.ggml.scores")
                + [("tokenizer.ggml.scores", g.ARRAY, (g.F32, [0.0]))]
            )
        ),
        r"tokenizer.ggml.scores has 1 item\(s\) for 4 token\(s\)",
    ),
    "tokens that are not text": (
        forged(
            g.forge(
                kv=without("tokenizer.ggml.tokens")
                + [("tokenizer.ggml.tokens", g.ARRAY, (g.U32, [1, 2, 3, 4]))]
            )
        ),
        r"tokenizer.ggml.tokens has the wrong type \(array of u32, not array of string\)",
    ),
    "chat template that is not text": (
        forged(g.forge(kv=g.model_kv(None) + [("tokenizer.chat_template", g.U32, 5)])),
        r"chat template tokenizer.chat_template is not text",
    ),
    "chat template escaping the sandbox": (
        real(ESCAPE),
        r"chat template is unsafe or broken.*tries to leave the template sandbox",
    ),
    "chat template reaching for subclasses": (
        forged(g.forge(kv=g.model_kv("{{ ''.__class__.__mro__[1].__subclasses__() }}"))),
        r"tries to leave the template sandbox \(access to attribute '__class__'",
    ),
    "chat template that does not parse": (
        real("{% for m in messages %}{{ m.content }"),
        r"chat template is unsafe or broken.*not valid Jinja",
    ),
    "chat template memory bomb": (
        real("{{ 'x' * 10000000000 }}"),
        r"chat template is unsafe or broken.*repeats text",
    ),
    "chat template that always fails": (
        forged(g.forge(kv=g.model_kv("{{ raise_exception('no chat for you') }}"))),
        r"fails on a plain conversation \(ValueError: no chat for you\)",
    ),
}


@pytest.fixture(scope="module")
def case_files(tmp_path_factory: pytest.TempPathFactory, starter_gguf: Path) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("malformed")
    template = read_local_header(starter_gguf).get("tokenizer.chat_template").encode()
    files = {}
    for index, (name, (make, _)) in enumerate(CASES.items()):
        path = folder / f"case-{index:02d}.gguf"
        made = make(starter_gguf)
        if isinstance(made, tuple):
            _, new_template, size = made
            patch = (
                {template: g.same_length(new_template, len(template)).encode()}
                if new_template
                else None
            )
            g.real_copy(starter_gguf, path, patch=patch, size=size)
        else:
            path.write_bytes(made)
        files[name] = path
    return files


@pytest.fixture(scope="module")
def cli_results(case_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """``hearth run FILE -p hi`` on every case, two at a time: name -> (exit code, stderr, cwd).
    The exit code is None when it hung past CLI_TIMEOUT_S."""
    home = tmp_path_factory.mktemp("cli-home")
    env = {
        **os.environ,
        "HEARTH_HOME": str(home / "hearth"),
        "HF_HOME": str(home / "hf"),
        "QT_QPA_PLATFORM": "offscreen",
    }

    def run(item: tuple[str, Path]) -> tuple[str, tuple]:
        name, path = item
        cwd = home / f"cwd-{path.stem}"
        cwd.mkdir()
        try:
            done = subprocess.run(
                [str(HEARTH), "run", str(path), "-p", "hi", "--max-tokens", "2"],
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=CLI_TIMEOUT_S,
                check=False,
            )
            return name, (done.returncode, done.stderr, cwd)
        except subprocess.TimeoutExpired as exc:
            return name, (None, str(exc.stderr or ""), cwd)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(run, case_files.items()))


@pytest.mark.parametrize("name", CASES)
def test_check_file_refuses_it_naming_the_problem(
    case_files: dict[str, Path], faults: Tally, name: str
) -> None:
    path = case_files[name]
    with faults.inject(f"malformed GGUF ({name}): gguf_check"):
        with pytest.raises(InvalidModelFile, match=CASES[name][1]) as refused:
            check.check_file(path)

        message = str(refused.value)
        assert message.startswith(f"Hearth refused {path.name}.") and "\n" not in message
        from app.core.inference.engine import Engine

        with pytest.raises(InvalidModelFile, match=CASES[name][1]):
            Engine().load(path)


@pytest.mark.parametrize("name", CASES)
def test_hearth_run_exits_1_with_one_line(
    case_files: dict[str, Path], cli_results: dict, faults: Tally, name: str
) -> None:
    code, stderr, cwd = cli_results[name]
    with faults.inject(f"malformed GGUF ({name}): hearth run"):
        if code is None:
            raise CrashDetected(f"hearth run hung for {CLI_TIMEOUT_S} s")
        if code < 0 or "Traceback" in stderr or list(cwd.glob("core*")):
            raise CrashDetected(f"hearth run crashed (exit {code}):\n{stderr[-2000:]}")
        lines = [
            line for line in stderr.splitlines() if line.strip() and not line.startswith("Loading ")
        ]
        assert code == 1, stderr
        assert len(lines) == 1 and lines[0].startswith("Error: Hearth refused"), stderr
        assert len(lines[0]) < 600


def test_real_models_pass_the_check(
    starter_gguf: Path, quant_ladder: dict[str, Path], tmp_path: Path
) -> None:
    """No false alarms: the starter model, every quant of the ladder and a forged valid file."""
    for path in [starter_gguf, *quant_ladder.values()]:
        check.check_file(path)
    check.check_file(g.write(tmp_path / "forged.gguf", g.forge()))


# -- chat templates that try to leave the sandbox ------------------------------------------------

ESCAPES = [
    "{{ cycler.__init__.__globals__.os.system('touch {canary}') }}",
    "{{ lipsum.__globals__['os'].popen('touch {canary}').read() }}",
    "{{ joiner.__init__.__globals__.__builtins__.open('{canary}', 'w') }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ messages.__class__.__base__.__subclasses__() }}",
    "{{ ().__class__.__bases__[0].__subclasses__() }}",
    "{{ raise_exception.__globals__ }}",
    "{{ strftime_now.__code__ }}",
    "{{ ''|attr('__class__') }}",
    "{{ self._TemplateReference__context }}",
    "{{ messages.append({'role': 'user', 'content': 'x'}) }}",
    "{% set d = {} %}{{ d.update({'a': 1}) }}",
    "{{ messages.pop() }}",
]
LIMITS = [
    ("{{ '%999999999d' % 1 }}", r"format width"),
    ("{{ '{:>999999999}'.format(1) }}", r"format width"),
    ("{{ '%999999999d'|format(1) }}", r"format width"),
    ("{{ 'x'.center(10000000000) }}", r"number 10,000,000,000"),
    ("{{ 'x'|indent(100000000000) }}", r"number 100,000,000,000"),
    ("{{ 10 ** 100000000 }}", r"power"),
    ("{{ [0] * 100000000 }}", r"repeats"),
    (
        "{% set ns = namespace(x='ab' * 1000000) %}{% for i in range(40) %}"
        "{% set ns.x = ns.x ~ ns.x %}{% endfor %}{{ ns.x|length }}",
        r"builds a text .* too long",
    ),
    (
        "{% set ns = namespace(x=[]) %}{% for i in range(1000) %}"
        "{% set ns.x = ns.x + ['ab' * 1000000 ~ i] %}{% endfor %}{{ ns.x|length }}",
        r"needs more than 256 MB",
    ),
    (
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        r"takes more than 0.5 s",
    ),
]
SECONDS = {LIMITS[-1][0]: 0.5}  # the time bomb gets half a second; the rest the default


@pytest.mark.parametrize("template", ESCAPES)
def test_a_template_escape_is_refused_and_runs_nothing(
    template: str, tmp_path: Path, faults: Tally
) -> None:
    canary = tmp_path / "escaped"
    with faults.inject(f"chat template escape: {template[:50]}"):
        problem = check.template_problem(template.replace("{canary}", str(canary)))

        assert problem is not None and "tries to leave the template sandbox" in problem, problem
        assert not canary.exists(), "code ran outside the sandbox"


@pytest.mark.skipif(
    sys.gettrace() is not None,
    reason="the time and memory budget needs sys.settrace, which a debugger or coverage tool holds",
)
@pytest.mark.parametrize(("template", "says"), LIMITS)
def test_a_template_asking_too_much_is_refused(template: str, says: str, faults: Tally) -> None:
    with faults.inject(f"chat template bomb: {template[:50]}"):
        problem = check.template_problem(
            template, seconds=SECONDS.get(template, check.TEMPLATE_SECONDS)
        )

        assert problem is not None and re.search(says, problem), problem


def test_real_chat_templates_render() -> None:
    """Templates in the styles of popular families still pass (no false alarms)."""
    templates = [
        "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + "
        "'<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
        "{% endif %}",
        "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'system' %}{% set ns = "
        "namespace(s=m['content']) %}{% elif (m['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        "{{ raise_exception('Conversation roles must alternate') }}{% else %}{{ '[INST] ' if "
        "m['role'] == 'user' else '' }}{{ m['content'] }}{{ ' [/INST]' if m['role'] == 'user' "
        "else eos_token }}{% endif %}{% endfor %}",
        "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') "
        "}}{% endif %}{% for m in messages %}<start_of_turn>{{ m['role'] }}\n{{ m['content'] | "
        "trim }}<end_of_turn>\n{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n"
        "{% endif %}",
        "{{- bos_token }}{%- set date_string = strftime_now('%d %b %Y') %}{%- if tools %}"
        "{{ tools | tojson(indent=4) }}{% endif %}{% for m in messages %}<|start_header_id|>"
        "{{ m['role'] }}<|end_header_id|>\n\n{{ m['content'] | trim }}<|eot_id|>{% endfor %}"
        "{{ 'Today: %s' % date_string }}{{ '{:>4}'.format(1) }}",
    ]
    for template in templates:
        assert check.template_problem(template) is None
