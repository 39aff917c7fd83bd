"""A mypy plugin: Qt properties inherited from a base class are accepted as keyword arguments.

PySide6 sets any Qt property given to a constructor by name (``QLabel("Hi", objectName="note")``,
``objectName`` being QObject's), but its stubs list only the class's own properties there (QLabel's
``wordWrap``, not QObject's ``objectName`` or QWidget's ``visible``), so mypy refused the
inherited ones (python/mypy#21576: "a Qt issue, not a mypy issue"). Each base class's ``__init__``
in the stubs lists that class's own properties as keyword-only arguments, with their types: this
plugin adds those of every PySide6 base to a PySide6 constructor's signature, so the arguments
are still checked by name and type (a misspelt property is still an error). A signal given by
name is connected (``QPushButton("Go", clicked=self.go)``): the class's signals are taken too.

Used by ``[tool.mypy] plugins`` in pyproject.toml; tests/test_types.py runs it.
"""

from __future__ import annotations

from collections.abc import Callable

from mypy.nodes import ARG_NAMED_OPT, ARG_STAR2, TypeInfo
from mypy.plugin import FunctionSigContext, Plugin
from mypy.types import (
    AnyType,
    CallableType,
    Instance,
    Overloaded,
    Type,
    TypeOfAny,
    get_proper_type,
)

QT_PACKAGE = "PySide6."


class QtPropertiesPlugin(Plugin):
    def get_function_signature_hook(
        self, fullname: str
    ) -> Callable[[FunctionSigContext], CallableType] | None:
        return with_inherited_properties if fullname.startswith(QT_PACKAGE) else None


def with_inherited_properties(ctx: FunctionSigContext) -> CallableType:
    """``ctx``'s constructor signature with its Qt bases' properties added as keyword-only
    arguments (those it does not name already)."""
    signature = ctx.default_signature
    made = get_proper_type(signature.ret_type)
    if not isinstance(made, Instance) or ARG_STAR2 in signature.arg_kinds:
        return signature  # not a constructor, or it takes any keyword already
    names: set[str | None] = set(signature.arg_names)
    extra: list[tuple[str, Type]] = []
    for base in made.type.mro:
        own = _own_properties(base) if base is not made.type else []
        for name, kind in [*own, *_signals(base)]:
            if name not in names:
                names.add(name)
                extra.append((name, kind))
    if not extra:
        return signature
    return signature.copy_modified(
        arg_types=[*signature.arg_types, *(kind for _, kind in extra)],
        arg_kinds=[*signature.arg_kinds, *(ARG_NAMED_OPT for _ in extra)],
        arg_names=[*signature.arg_names, *(name for name, _ in extra)],
    )


def _own_properties(info: TypeInfo) -> list[tuple[str, Type]]:
    """The keyword-only arguments of a PySide6 class's ``__init__``: its own Qt properties."""
    if not info.fullname.startswith(QT_PACKAGE):
        return []
    init = info.names.get("__init__")
    found = get_proper_type(init.type) if init is not None and init.type is not None else None
    if isinstance(found, CallableType):
        items = [found]
    elif isinstance(found, Overloaded):
        items = list(found.items)
    else:
        return []
    return [
        (name, kind)
        for item in items
        for name, arg_kind, kind in zip(item.arg_names, item.arg_kinds, item.arg_types)
        if arg_kind == ARG_NAMED_OPT and name is not None
    ]


def _signals(info: TypeInfo) -> list[tuple[str, Type]]:
    """A PySide6 class's signals, each taking the slot to connect (any callable)."""
    if not info.fullname.startswith(QT_PACKAGE):
        return []
    found = []
    for name, node in info.names.items():
        kind = get_proper_type(node.type) if node.type is not None else None
        if isinstance(kind, Instance) and kind.type.fullname == "PySide6.QtCore.Signal":
            found.append((name, AnyType(TypeOfAny.explicit)))
    return found


def plugin(version: str) -> type[Plugin]:
    return QtPropertiesPlugin
