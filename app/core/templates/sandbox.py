"""The guarded Jinja sandbox every chat template is compiled and rendered in.

llama-cpp-python's sandbox (same options, extensions and ``tojson``), stricter: touching an
unsafe attribute fails at once, and every operation that can build a result far larger than its
inputs in one step (a repeat, a power, a format width, ``replace``, ``join``, ``indent``,
``expandtabs``...) is sized before it runs and refused past
:func:`~app.core.templates.budget.item_limit`. One C call cannot be interrupted by the
:class:`~app.core.templates.budget.Budget`, so each must be bounded before it starts; the budget
then bounds how many of them a loop can make. The same guards apply when Jinja's compiler folds
constants: the environment's filters and operators are the guarded ones.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable
from functools import cache, wraps
from typing import TYPE_CHECKING, Any, NoReturn

from app.core.compat.llama_cpp import chat_formatter_class
from app.core.templates.budget import (
    MAX_JSON_INDENT,
    MAX_POWER_BITS,
    MAX_TEMPLATE_NUMBER,
    TemplateLimit,
    item_limit,
)

if TYPE_CHECKING:  # jinja2 is imported when the sandbox is first built
    from jinja2.compiler import CodeGenerator, Frame
    from jinja2.nodes import Concat
    from jinja2.runtime import Context
    from jinja2.sandbox import ImmutableSandboxedEnvironment

TOO_WIDE = "it asks for a format width too large for a chat template"
TOO_LONG = "it builds a text or a list too long for a chat template"


def check_numbers(values: Iterable[object]) -> None:
    for value in values:
        if isinstance(value, int) and abs(value) > MAX_TEMPLATE_NUMBER:
            raise TemplateLimit(f"it passes the number {value:,}, too large for a chat template")


def check_format(text: str) -> None:
    """Refuse %-style or {}-style formats asking for huge or computed widths."""
    for spec in re.findall(r"%[#0\- +]*([*\d]*)(?:\.([*\d]*))?", text):
        for part in spec:
            if "*" in part or (part and int(part) > MAX_TEMPLATE_NUMBER):
                raise TemplateLimit(TOO_WIDE)
    try:
        specs = [spec for _, _, spec, _ in string.Formatter().parse(text) if spec]
    except ValueError:
        return  # not a {}-format: formatting it fails by itself
    for spec in specs:
        if "{" in spec or any(int(n) > MAX_TEMPLATE_NUMBER for n in re.findall(r"\d+", spec)):
            raise TemplateLimit(TOO_WIDE)


def check_size(estimate: int) -> None:
    if estimate > item_limit():
        raise TemplateLimit(TOO_LONG)


def _size(value: object) -> int:
    """An upper bound for the length of ``str(value)``, lists and namespaces included: a list
    holding the same long text a million times is small in memory but not as text."""
    return deep_size(value, {})


def deep_size(value: object, seen: dict[int, int]) -> int:
    if isinstance(value, (str, bytes)):
        return len(value)
    if isinstance(value, (int, float, bool)) or value is None:
        return 24 if not isinstance(value, int) else value.bit_length() // 3 + 2
    items = _children(value)
    if items is None:
        return 64
    key = id(value)
    if key in seen:  # shared (or a cycle, printed as "[...]"): counted again each time
        return seen[key]
    seen[key] = 8
    kinds = set(map(type, items))  # a C loop: no traced Python line per item
    if kinds <= {str, bytes}:
        total = sum(map(len, items))
    elif kinds <= {int, float, bool, type(None)}:
        total = 24 * len(items)
    else:
        total, limit = 0, item_limit()
        for item in items:
            total += deep_size(item, seen)
            if total > limit:
                break
    seen[key] = total + 4 * len(items) + 2
    return seen[key]


def _children(value: object) -> list[Any] | None:
    if isinstance(value, dict):
        return [*value.keys(), *value.values()]
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    attrs = getattr(value, "_Namespace__attrs", None)  # jinja2.utils.Namespace
    return _children(attrs) if isinstance(attrs, dict) else None


def check_text(*values: object) -> None:
    """Refuse turning ``values`` into text when the text would be too long."""
    seen: dict[int, int] = {}
    check_size(sum(deep_size(value, seen) for value in values))


def _format_size(text: str, values: Iterable[object]) -> int:
    """An upper bound for ``text`` formatted with ``values``: each field may hold the longest."""
    fields = text.count("%") + text.count("{")
    return len(text) + fields * max((_size(v) for v in values), default=0)


def _method_size(
    owner: str | bytes, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> int:
    """An upper bound for ``owner.name(*args, **kwargs)`` on a str or bytes ``owner``."""
    if name == "replace" and len(args) >= 2:
        old, new = args[0], args[1]
        count = args[2] if len(args) > 2 else kwargs.get("count", -1)
        found = owner.count(old) if old else len(owner) + 1
        if isinstance(count, int) and count >= 0:
            found = min(found, count)
        return len(owner) + found * _size(new)
    if name == "expandtabs":
        tab = args[0] if args else kwargs.get("tabsize", 8)
        tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
        return len(owner) + tabs * int(tab)
    if name == "join" and args:
        return _size(args[0]) + len(owner) * len(args[0])
    if name == "translate" and args and isinstance(args[0], dict):
        return len(owner) * max((_size(v) for v in args[0].values()), default=1)
    if name in ("format", "format_map"):
        return _format_size(
            str(owner),
            [
                *args,
                *kwargs.values(),
                *(
                    args[0].values()
                    if name == "format_map" and args and isinstance(args[0], dict)
                    else ()
                ),
            ],
        )
    return 0


def _lines(text: object) -> int:
    return str(text).count("\n") + 1


_FILTER_SIZES: dict[str, Callable[..., int]] = {  # name -> upper bound of its result
    "replace": lambda s, old="", new="", count=None, *_: _method_size(
        str(s), "replace", (str(old), str(new), -1 if count is None else count), {}
    ),
    "join": lambda items, d="", *_: _size(items) + len(str(d)) * len(items),
    "indent": lambda s, width=4, first=False, blank=False, *_: (
        len(str(s)) + _lines(s) * (len(width) if isinstance(width, str) else int(width))
    ),
    "wordwrap": lambda s, width=79, brk=True, wrapstring=None, *_: (
        len(str(s)) * (1 + len(wrapstring or "\n"))
    ),
    "sum": lambda items, *_: _size(items),
    "format": lambda s, *args: _format_size(str(s), args),
}
_MATERIALIZE = {"join", "sum"}  # filters whose first argument is consumed once: make it a list


def guard_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` with its numbers checked and, for the filters that can grow, its result
    sized before it runs."""
    sizer = _FILTER_SIZES.get(name)

    @wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        check_numbers(args)
        check_numbers(kwargs.values())
        check_text(
            *args[1 if getattr(function, "jinja_pass_arg", None) else 0 :], *kwargs.values()
        )  # every filter may turn its arguments into text
        if sizer is not None:
            value_at = 1 if getattr(function, "jinja_pass_arg", None) else 0
            if name in _MATERIALIZE and len(args) > value_at:
                args = (*args[:value_at], list(args[value_at]), *args[value_at + 1 :])
            if name == "format":
                check_format(str(args[value_at]))
            check_size(sizer(*args[value_at:], *kwargs.values()))
        return function(*args, **kwargs)

    return guarded


def _guard_tojson(function: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(function)
    def guarded(value: Any, *args: Any, indent: Any = None, **kwargs: Any) -> Any:
        if args:
            indent, args = args[0], args[1:]
        if (
            indent is not None
            and _size(indent) > MAX_JSON_INDENT
            or isinstance(indent, int)
            and indent > MAX_JSON_INDENT
        ):
            raise TemplateLimit(f"it asks tojson for an indent over {MAX_JSON_INDENT}")
        return function(value, *args, indent=indent, **kwargs)

    return guarded


@cache
def guarded_sandbox() -> type[ImmutableSandboxedEnvironment]:
    """The ``GuardedSandbox`` class, built on first use (jinja2 and llama_cpp load only then)."""
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    formatter = chat_formatter_class()

    class GuardedSandbox(ImmutableSandboxedEnvironment):
        """See the module's docstring."""

        intercepted_binops = frozenset({"*", "**", "%"})
        code_generator_class = guarded_code_generator()

        def __init__(self) -> None:
            import jinja2

            super().__init__(
                loader=jinja2.BaseLoader(),
                trim_blocks=True,
                lstrip_blocks=True,
                finalize=_printed,
                extensions=[formatter.IgnoreGenerationTags, jinja2.ext.loopcontrols],
            )
            self.filters = {name: guard_filter(name, f) for name, f in self.filters.items()}
            self.filters["tojson"] = guard_filter("tojson", _guard_tojson(formatter.tojson))

        joined = staticmethod(joined)

        def unsafe_undefined(self, obj: Any, attribute: str) -> NoReturn:
            raise SecurityError(
                f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe"
            )

        def call(  # jinja's own signature
            __self, __context: Context, __obj: Any, *args: Any, **kwargs: Any
        ) -> Any:
            check_numbers(args)
            check_numbers(kwargs.values())
            owner = getattr(__obj, "__self__", None)
            if isinstance(owner, (str, bytes)):
                name = getattr(__obj, "__name__", "")
                if name == "join" and args:  # consumed once: size it from a list
                    args = (list(args[0]), *args[1:])
                check_size(_method_size(owner, name, args, kwargs))
            return super().call(__context, __obj, *args, **kwargs)

        def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
            if operator == "*":
                for seq, count in ((left, right), (right, left)):
                    if (
                        isinstance(seq, (str, bytes, list, tuple))
                        and isinstance(count, int)
                        and max(len(seq), _size(seq)) * count > item_limit()
                    ):
                        raise TemplateLimit("it repeats text or a list too many times")
            elif operator == "**":
                if (
                    isinstance(right, int)
                    and isinstance(left, int)
                    and abs(left) > 1
                    and (right > 256 or left.bit_length() * right > MAX_POWER_BITS)
                ):
                    raise TemplateLimit("it computes a power too large for a chat template")
            elif operator == "%" and isinstance(left, str):
                values = right if isinstance(right, tuple) else (right,)
                check_size(_format_size(left, values))  # cheap: before the parse
                check_format(left)
                check_numbers(values)
            return super().call_binop(context, operator, left, right)

        def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
            wrapper = super().wrap_str_format(value)
            if wrapper is None:
                return None
            owner, name = value.__self__, value.__name__  # format or format_map

            @wraps(wrapper)
            def guarded(*args: Any, **kwargs: Any) -> str:
                check_numbers(args)
                check_numbers(kwargs.values())
                check_size(_method_size(owner, name, args, kwargs))  # cheap: before the parse
                check_format(owner)
                return wrapper(*args, **kwargs)

            return guarded

    return GuardedSandbox


def _printed(value: object) -> object:
    """Every ``{{ ... }}`` passes here before ``str()``."""
    if not isinstance(value, str):
        check_text(value)
    return value


def joined(values: Iterable[object]) -> str:
    """``a ~ b``, sized first."""
    check_text(*values)
    return "".join(map(str, values))


@cache
def guarded_code_generator() -> type[CodeGenerator]:
    """Jinja's code generator, with ``~`` going through :func:`joined` (Jinja calls its own
    ``str_join`` there, out of the environment's reach)."""
    from jinja2.compiler import CodeGenerator, optimizeconst

    class GuardedCodeGenerator(CodeGenerator):
        @optimizeconst
        def visit_Concat(self, node: Concat, frame: Frame) -> None:
            self.write("environment.joined((")
            for arg in node.nodes:
                self.visit(arg, frame)
                self.write(", ")
            self.write("))")

    return GuardedCodeGenerator
