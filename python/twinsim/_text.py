"""Text arguments the compiled classes cannot take, reported as ValidationError.

twinsim's library works on UTF-8 text. A Python str holding a lone surrogate
(U+D800 to U+DFFF not in a pair, e.g. from ``os.fsdecode`` of undecodable bytes
or ``"\\udc80"`` written by hand) has no UTF-8 form, so pybind11 refuses the
whole call with a TypeError ("incompatible function arguments") that names
neither the argument nor the character. ``guard_text_arguments`` wraps the
public methods of the compiled classes: the call goes through untouched, and
only when it fails with a TypeError or UnicodeError is each argument searched
(ids, queries, and the strings and keys inside twin bodies and patches) for
text that cannot be encoded; the first found is reported as
``ValidationError`` naming the method, the argument, where inside it, the code
point and its index. Nothing is checked on calls that succeed.

(A NUL character is valid text: the library refuses it in ids itself, with a
ValidationError whose message shows it as ``\\x00``.)
"""

from __future__ import annotations

import functools
import re
from typing import Any, Iterator

from ._core import ValidationError

_SIGNATURE = re.compile(r"^\w+\((.*?)\)\s*->", re.S)
_MAX_DEPTH = 64


def _unencodable(value: Any, where: str, depth: int = 0) -> Iterator[tuple[str, str, int]]:
    """(where, text, index of the first bad code point) for each str inside `value` with no UTF-8 form."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            yield where, value, error.start
        return
    if depth >= _MAX_DEPTH:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                for found in _unencodable(key, f"{where}, key {ascii(key)}", depth + 1):
                    yield found
            yield from _unencodable(item, f"{where}[{ascii(key)}]", depth + 1)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _unencodable(item, f"{where}[{index}]", depth + 1)


def _parameter_names(method: Any) -> list[str]:
    """The parameter names of a pybind11 method, from its signature line (self left out)."""
    match = _SIGNATURE.match((getattr(method, "__doc__", None) or "").strip())
    if not match:
        return []
    names = [part.split(":")[0].strip().lstrip("*") for part in match.group(1).split(",")]
    return [n for n in names if n and n != "self" and re.fullmatch(r"\w+", n)]


def _report(qualname: str, names: list[str], args: tuple, kwargs: dict) -> None:
    arguments = [(names[i] if i < len(names) else f"argument {i + 1}", value) for i, value in enumerate(args)]
    arguments += list(kwargs.items())
    for name, value in arguments:
        for where, text, index in _unencodable(value, name):
            shown = text if len(text) <= 80 else text[max(0, index - 30):index + 30]
            raise ValidationError(
                f"{qualname}(): {where} is not valid Unicode text: {ascii(shown)} holds a lone surrogate "
                f"U+{ord(text[index]):04X} at index {index}; twinsim's text is UTF-8, which has no form for a "
                f"surrogate that is not part of a pair") from None


def _guard(qualname: str, method: Any, skip_self: bool) -> Any:
    names = _parameter_names(method)

    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except (TypeError, UnicodeError):
            _report(qualname, names, args[1:] if skip_self else args, kwargs)
            raise

    return call


def guard_text_arguments(cls: type, public_name: str | None = None) -> type:
    """Wraps the public methods (and static methods) of the compiled class `cls` in place."""
    label = public_name or cls.__name__
    for attribute, member in list(vars(cls).items()):
        if attribute.startswith("__"):
            continue
        if isinstance(member, staticmethod):
            setattr(cls, attribute, staticmethod(_guard(f"{label}.{attribute}", member.__func__, False)))
        elif type(member).__name__ == "instancemethod":
            setattr(cls, attribute, _guard(f"{label}.{attribute}", member, True))
    return cls
