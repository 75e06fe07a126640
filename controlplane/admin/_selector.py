"""Kubernetes label selectors: ``env=prod,tier!=dev,team in (a,b),!legacy,owner``. Pure functions.

The grammar is Kubernetes' (``k8s.io/apimachinery/pkg/labels``): requirements separated by commas, each
``key``, ``!key``, ``key=value``, ``key==value``, ``key!=value``, ``key in (v1,v2)`` or
``key notin (v1,v2)``; keys are ``[prefix/]name`` (a DNS subdomain prefix of at most 253 characters, a
name of at most 63), values at most 63 characters of ``[A-Za-z0-9-_.]`` starting and ending alphanumeric
(or empty). A bad selector raises ``SelectorError`` saying where and what was expected.
"""

from __future__ import annotations

import re

from ..store import LabelOp, LabelRequirement

_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_WORD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_./")
_OPERATORS = ("!=", "==", "=", "!", "(", ")", ",")


class SelectorError(ValueError):
    """A label selector that does not parse; the message names the position and the problem."""


def _check_key(key: str) -> None:
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        raise SelectorError(
            f"invalid label key {key!r}: the prefix must be a DNS subdomain (lowercase letters, "
            "digits, '-' and '.'; at most 253 characters)"
        )
    if not name or len(name) > 63 or not _NAME.fullmatch(name):
        raise SelectorError(
            f"invalid label key {key!r}: the name must be 1-63 characters of letters, digits, '-', '_' "
            "and '.', starting and ending with a letter or digit"
        )


def _check_value(value: str) -> None:
    if value and (len(value) > 63 or not _NAME.fullmatch(value)):
        raise SelectorError(
            f"invalid label value {value!r}: at most 63 characters of letters, digits, '-', '_' and '.', "
            "starting and ending with a letter or digit (or empty)"
        )


def _tokens(text: str) -> list[tuple[int, str]]:
    """(position, token) pairs: operators, and words (keys, values, ``in``/``notin``)."""
    out: list[tuple[int, str]] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        op = next((o for o in _OPERATORS if text.startswith(o, i)), None)
        if op is not None:
            out.append((i, op))
            i += len(op)
            continue
        if ch not in _WORD_CHARS:
            raise SelectorError(f"unexpected character {ch!r} at position {i}")
        start = i
        while i < len(text) and text[i] in _WORD_CHARS:
            i += 1
        out.append((start, text[start:i]))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.i = 0
        self.end = len(text)

    def peek(self) -> str | None:
        return self.tokens[self.i][1] if self.i < len(self.tokens) else None

    def where(self) -> str:
        return f"position {self.tokens[self.i][0]}" if self.i < len(self.tokens) else "the end"

    def take(self) -> str:
        token = self.tokens[self.i][1]
        self.i += 1
        return token

    def word(self, what: str) -> str:
        token = self.peek()
        if token is None or token in _OPERATORS:
            raise SelectorError(f"expected {what} at {self.where()}, found {token or 'nothing'!r}")
        return self.take()

    def requirement(self) -> LabelRequirement:
        if self.peek() == "!":
            self.take()
            key = self.word("a label key after '!'")
            _check_key(key)
            return LabelRequirement(key, LabelOp.NOT_EXISTS)
        key = self.word("a label key")
        _check_key(key)
        token = self.peek()
        if token is None or token == ",":
            return LabelRequirement(key, LabelOp.EXISTS)
        if token in ("=", "==", "!="):
            self.take()
            following = self.peek()
            value = "" if following is None or following == "," else self.word("a label value")
            _check_value(value)
            return LabelRequirement(key, LabelOp.NOT_EQUALS if token == "!=" else LabelOp.EQUALS, (value,))
        if token in ("in", "notin"):
            self.take()
            return LabelRequirement(key, LabelOp.IN if token == "in" else LabelOp.NOT_IN, self.value_set())
        raise SelectorError(
            f"expected '=', '==', '!=', 'in', 'notin', ',' or the end after key {key!r} at {self.where()}"
        )

    def value_set(self) -> tuple[str, ...]:
        if self.peek() != "(":
            raise SelectorError(f"expected '(' to open a set of values at {self.where()}")
        self.take()
        values: list[str] = []
        while True:
            token = self.peek()
            if token is None:
                raise SelectorError("expected ')' to close the set of values at the end")
            value = "" if token in (",", ")") else self.word("a label value")
            _check_value(value)
            values.append(value)
            token = self.peek()
            if token is None:
                raise SelectorError("expected ')' to close the set of values at the end")
            if token == ")":
                self.take()
                break
            if token != ",":
                raise SelectorError(f"expected ',' or ')' in the set of values at {self.where()}")
            self.take()
        if values == [""]:
            raise SelectorError("a set of values for 'in' or 'notin' cannot be empty")
        return tuple(dict.fromkeys(values))


def parse_selector(text: str) -> tuple[LabelRequirement, ...]:
    """The requirements of ``text`` (all must hold; an empty selector selects everything)."""
    parser = _Parser(text)
    if parser.peek() is None:
        return ()
    out: list[LabelRequirement] = []
    while True:
        out.append(parser.requirement())
        if parser.peek() is None:
            return tuple(out)
        if parser.peek() != ",":
            raise SelectorError(f"expected ',' between requirements at {parser.where()}")
        parser.take()
        if parser.peek() is None:
            raise SelectorError("expected a requirement after the last ','")


def format_selector(requirements: tuple[LabelRequirement, ...]) -> str:
    """The selector text of ``requirements`` (``parse_selector`` reads it back as the same)."""
    parts: list[str] = []
    for r in requirements:
        if r.op is LabelOp.EXISTS:
            parts.append(r.key)
        elif r.op is LabelOp.NOT_EXISTS:
            parts.append(f"!{r.key}")
        elif r.op in (LabelOp.EQUALS, LabelOp.NOT_EQUALS):
            parts.append(f"{r.key}{r.op.value}{r.values[0]}")
        else:
            parts.append(f"{r.key} {r.op.value} ({','.join(r.values)})")
    return ",".join(parts)
