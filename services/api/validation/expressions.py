"""The small expression language of the validation rules: arithmetic over a report's named figures.

    expression := term (("+" | "-") term)*
    term       := unary (("*" | "/") unary)*
    unary      := ("-" | "+") unary | primary
    primary    := NUMBER | FIGURE | FUNCTION "(" arguments ")" | "(" expression ")"
    FIGURE     := NAME ("." (NAME | DIGITS | "*"))*        spent.republican_budget, indicator.3.actual, spent.*
    FUNCTION   := abs | min | max | sum                     sum takes one wildcard figure: sum(parts.spent.*)

A hand-written parser of a few dozen lines, not Python's: the figures' names carry numbers between dots
(`indicator.3.actual`), which no Python expression can spell, and nothing of a host language is reachable from a
rule's text. No attribute access, no subscripts, no strings, no comparison inside an expression (a rule's operator
compares its two sides), no exponent, no call but the four functions. Numbers are read as Decimal from their text
(`0.1` is one tenth, exactly); a literal has at most 30 digits, an expression at most 2,000 characters and 32 levels
of nesting. Every refusal names the position (0-based, in characters) where the text stops making sense.
"""

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, DivisionByZero, InvalidOperation, Overflow, localcontext

MAX_LENGTH = 2000
MAX_DEPTH = 32
MAX_DIGITS = 30
PRECISION = 34  # decimal digits kept by +, -, * and / (IEEE decimal128)
FUNCTIONS = ("abs", "min", "max", "sum")
WILDCARD = "*"
# A wildcard matches one segment of a figure's name, never the segment `total` (a total is not one of its parts:
# `sum(spent.*)` adds the sources, not the sources and their total).
NOT_MATCHED = frozenset({"total"})

_TOKEN = re.compile(
    r"(?P<space>\s+)|(?P<number>\d+(?:\.\d+)?)|(?P<name>[a-z][a-z0-9_]*(?:\.(?:[a-z0-9_]+|\*))*)|(?P<op>[-+*/(),])"
)


class ExpressionError(ValueError):
    """An expression the language does not accept, and where (`position`, 0-based)."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at position {position})")
        self.message = message
        self.position = position


@dataclass(frozen=True)
class Node:
    kind: str  # "number", "figure", "neg", "+", "-", "*", "/", "call"
    position: int
    value: Decimal | None = None
    name: str = ""  # a figure's name, or a call's function
    children: tuple["Node", ...] = ()


@dataclass(frozen=True)
class Expression:
    """A parsed expression: its text, its tree, and the figure names it refers to (wildcards as written)."""

    text: str
    tree: Node
    names: frozenset[str] = field(default_factory=frozenset)


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    at = 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            raise ExpressionError(f"unexpected character {text[at]!r}", at)
        kind = match.lastgroup or ""
        if kind != "space":
            out.append((kind, match.group(), at))
        at = match.end()
    out.append(("end", "", len(text)))
    return out


class _Parser:
    def __init__(self, text: str, known: Callable[[str], bool]) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.at = 0
        self.known = known
        self.names: set[str] = set()

    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.at]

    def take(self) -> tuple[str, str, int]:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def expect(self, value: str) -> None:
        kind, text, position = self.take()
        if text != value or kind != "op":
            raise ExpressionError(f"expected {value!r}, found {_shown(kind, text)}", position)

    def parse(self) -> Node:
        tree = self.expression(0)
        kind, text, position = self.peek()
        if kind != "end":
            raise ExpressionError(f"unexpected {_shown(kind, text)}", position)
        return tree

    def expression(self, depth: int) -> Node:
        node = self.term(depth)
        while self.peek()[1] in ("+", "-") and self.peek()[0] == "op":
            _, op, position = self.take()
            node = Node(op, position, children=(node, self.term(depth)))
        return node

    def term(self, depth: int) -> Node:
        node = self.unary(depth)
        while self.peek()[1] in ("*", "/") and self.peek()[0] == "op":
            _, op, position = self.take()
            if self.peek()[1] == "*":
                raise ExpressionError("no exponent in this language", self.peek()[2])
            node = Node(op, position, children=(node, self.unary(depth)))
        return node

    def unary(self, depth: int) -> Node:
        kind, text, position = self.peek()
        if kind == "op" and text in ("-", "+"):
            self.take()
            if depth + 1 > MAX_DEPTH:
                raise ExpressionError(f"nested deeper than {MAX_DEPTH} levels", position)
            inner = self.unary(depth + 1)
            return Node("neg", position, children=(inner,)) if text == "-" else inner
        return self.primary(depth)

    def primary(self, depth: int) -> Node:
        kind, text, position = self.take()
        if kind == "number":
            if len(text.replace(".", "")) > MAX_DIGITS:
                raise ExpressionError(f"a number of more than {MAX_DIGITS} digits", position)
            return Node("number", position, value=Decimal(text))
        if kind == "op" and text == "(":
            if depth + 1 > MAX_DEPTH:
                raise ExpressionError(f"nested deeper than {MAX_DEPTH} levels", position)
            inner = self.expression(depth + 1)
            self.expect(")")
            return inner
        if kind == "name":
            if self.peek()[1] == "(" and self.peek()[0] == "op":
                return self.call(text, position, depth)
            if WILDCARD in text:
                raise ExpressionError(f"the wildcard name {text!r} may only be summed: sum({text})", position)
            return self.figure(text, position)
        raise ExpressionError(f"unexpected {_shown(kind, text)}", position)

    def figure(self, name: str, position: int) -> Node:
        if not self.known(name):
            raise ExpressionError(f"unknown figure {name!r}", position)
        self.names.add(name)
        return Node("figure", position, name=name)

    def call(self, function: str, position: int, depth: int) -> Node:
        if function not in FUNCTIONS:
            raise ExpressionError(f"unknown function {function!r} (known: {', '.join(FUNCTIONS)})", position)
        if depth + 1 > MAX_DEPTH:
            raise ExpressionError(f"nested deeper than {MAX_DEPTH} levels", position)
        self.expect("(")
        if function == "sum":
            kind, text, at = self.take()
            if kind != "name" or WILDCARD not in text:
                raise ExpressionError("sum takes one wildcard figure, such as sum(spent.*)", at)
            if not self.known(text):
                raise ExpressionError(f"unknown figure {text!r}", at)
            self.names.add(text)
            self.expect(")")
            return Node("call", position, name="sum", children=(Node("figure", at, name=text),))
        arguments = [self.expression(depth + 1)]
        while self.peek()[1] == "," and self.peek()[0] == "op":
            self.take()
            arguments.append(self.expression(depth + 1))
        self.expect(")")
        if function == "abs" and len(arguments) != 1:
            raise ExpressionError("abs takes one argument", position)
        if function in ("min", "max") and len(arguments) < 2:
            raise ExpressionError(f"{function} takes two arguments or more", position)
        return Node("call", position, name=function, children=tuple(arguments))


def _shown(kind: str, text: str) -> str:
    return "end of the expression" if kind == "end" else repr(text)


def parse(text: str, known: Callable[[str], bool]) -> Expression:
    """Parse `text`; `known(name)` says whether a figure's name (a wildcard included) may be referred to."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"longer than {MAX_LENGTH} characters", MAX_LENGTH)
    if not text.strip():
        raise ExpressionError("empty expression", 0)
    parser = _Parser(text, known)
    tree = parser.parse()
    return Expression(text=text, tree=tree, names=frozenset(parser.names))


# ------------------------------------------------------------------------------------------------ evaluation


class Undefined(Exception):
    """The expression has no value (a division by zero, a result past Decimal's range): the rule it belongs to is
    not evaluated."""


def matches(pattern: str, names: Iterable[str]) -> list[str]:
    """The names a wildcard figure stands for, in order: `spent.*` matches `spent.ppp`, never `spent.total`."""
    parts = pattern.split(".")
    out = []
    for name in names:
        segments = name.split(".")
        if len(segments) != len(parts):
            continue
        if all(p == s or (p == WILDCARD and s not in NOT_MATCHED) for p, s in zip(parts, segments, strict=True)):
            out.append(name)
    return sorted(out)


def referenced(expression: Expression, figures: Mapping[str, Decimal | None]) -> list[str]:
    """Every figure name the expression reads in `figures` (wildcards expanded; a wildcard matching none counts as
    one missing figure under its own name)."""
    out: list[str] = []
    for name in sorted(expression.names):
        if WILDCARD in name:
            out.extend(matches(name, figures) or [name])
        else:
            out.append(name)
    return out


def evaluate(expression: Expression, figures: Mapping[str, Decimal | None]) -> Decimal:
    """The value of `expression` with each figure read from `figures`, a missing one (absent or None) as 0: the caller
    applies the rule's missing-value strategy before. Exact Decimal arithmetic with PRECISION digits."""
    with localcontext() as context:
        context.prec = PRECISION
        context.traps[DivisionByZero] = True
        context.traps[InvalidOperation] = True
        context.traps[Overflow] = True
        try:
            return _value(expression.tree, figures)
        except (DivisionByZero, InvalidOperation, Overflow) as exc:
            raise Undefined(str(exc)) from exc


def _figure(figures: Mapping[str, Decimal | None], name: str) -> Decimal:
    value = figures.get(name)
    return Decimal(0) if value is None else Decimal(value)


def _value(node: Node, figures: Mapping[str, Decimal | None]) -> Decimal:
    kind = node.kind
    if kind == "number":
        assert node.value is not None
        return +node.value
    if kind == "figure":
        return +_figure(figures, node.name)
    if kind == "neg":
        return -_value(node.children[0], figures)
    if kind == "call":
        if node.name == "sum":
            return sum((_figure(figures, name) for name in matches(node.children[0].name, figures)), Decimal(0))
        values = [_value(child, figures) for child in node.children]
        if node.name == "abs":
            return abs(values[0])
        return min(values) if node.name == "min" else max(values)
    left, right = (_value(child, figures) for child in node.children)
    if kind == "+":
        return left + right
    if kind == "-":
        return left - right
    if kind == "*":
        return left * right
    return left / right
