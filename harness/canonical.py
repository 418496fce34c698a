"""One spelling of equivalent Python code: the canonical text of a block or a line of Python source, as
`harness.diffs` compares the changed lines of patches.

A block is parsed whole (dedented), else line by line (a block header gets a ``pass`` body), else read token by
token; a tree is rewritten by `Canonicaliser` (docstrings and string comments dropped, new local names renamed
as asked, ``not a == b`` -> ``a != b``, ``x == None`` -> ``x is None``, ``x += 1`` -> ``x = x + 1``,
``if not c: A else: B`` -> ``if c: B else: A``, annotations of arguments dropped) and printed back with
``ast.unparse``. The same blocks and lines recur across the candidates of an issue, so their forms are
remembered.

Leaf module: standard library only.
"""
from __future__ import annotations

import ast
import functools
import io
import re
import textwrap
import tokenize


@functools.lru_cache(maxsize=65536)
def canonical_block(lines: tuple[str, ...], renames: tuple[tuple[str, str], ...]) -> str | None:
    """``canonical_source`` of a block of lines (remembered: the same blocks recur across candidates)."""
    if not any(line.strip() for line in lines):
        return ""
    return canonical_source("\n".join(lines), dict(renames))


def normalise_python(lines: list[str], renames: dict[str, str]) -> str:
    """Canonical text of a block of Python lines: parsed whole, else line by line, else token by token."""
    lines = drop_docstring_lines(lines)
    if not any(line.strip() for line in lines):
        return ""
    whole = canonical_source("\n".join(lines), renames)
    if whole is not None:
        return whole
    return "\n".join(filter(None, (normalise_line(line, renames) for line in lines)))


def drop_docstring_lines(lines: list[str]) -> list[str]:
    """``lines`` without the lines of triple-quoted strings that start a line (docstrings, string comments)."""
    kept, quote = [], None
    for line in lines:
        text = line.strip()
        if quote:
            quote = None if quote in text else quote
            continue
        opener = text[:3] if text[:3] in ('"""', "'''") else None
        if opener is None and text[:1] in "rRuUbB" and text[1:4] in ('"""', "'''"):
            opener = text[1:4]
        if opener is None:
            kept.append(line)
        elif text.count(opener) < 2:
            quote = opener
    return kept


def normalise_line(line: str, renames: dict[str, str]) -> str:
    """One line of Python: as a statement when it parses (a block header gets a ``pass`` body), else tokens."""
    text = strip_comment(line.strip())
    if not text:
        return ""
    probe = re.sub(r"^(elif|while)\b", "if", text)
    if probe.endswith(":") and not probe.startswith(("else", "try", "finally", "except")):
        probe += " pass"
    parsed = canonical_line(probe, tuple(sorted(renames.items())))
    return parsed if parsed is not None else " ".join(tokens_of(text, renames))


def strip_comment(text: str) -> str:
    """``text`` without its trailing ``# comment`` (a ``#`` inside a string stays)."""
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT:
                return text[:token.start[1]].rstrip()
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return text


@functools.lru_cache(maxsize=65536)
def canonical_line(text: str, renames: tuple[tuple[str, str], ...]) -> str | None:
    """``canonical_source`` of one line, remembered: the same lines recur across the candidates of an issue."""
    return canonical_source(text, dict(renames))


def canonical_source(source: str, renames: dict[str, str]) -> str | None:
    """``ast.unparse`` of the canonicalised tree of ``source`` (dedented), or None when it does not parse."""
    try:
        tree = ast.parse(textwrap.dedent(source))
    except (SyntaxError, ValueError):
        return None
    tree = Canonicaliser(renames).visit(tree)
    return ast.unparse(tree)


def tokens_of(text: str, renames: dict[str, str]) -> list[str]:
    """Python tokens of a line that does not parse, without comments; new names replaced as in ``renames``."""
    tokens: list[str] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                              tokenize.DEDENT, tokenize.ENDMARKER):
                continue
            tokens.append(renames.get(token.string, token.string))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        tokens = tokens or text.split()
    return tokens


class Canonicaliser(ast.NodeTransformer):
    """Rewrites a tree to one spelling of equivalent code (see the module docstring)."""

    def __init__(self, renames: dict[str, str]):
        self.renames = renames

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = self.renames.get(node.id, node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg = self.renames.get(node.arg, node.arg)
        node.annotation = None
        return node

    def visit_Expr(self, node: ast.Expr) -> ast.AST | None:
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return None  # a docstring or a string used as a comment
        return self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        self.generic_visit(node)
        target = ast.Name(id=node.target.id, ctx=ast.Load()) if isinstance(node.target, ast.Name) else node.target
        value = ast.BinOp(left=target, op=node.op, right=node.value)
        return ast.copy_location(ast.Assign(targets=[node.target], value=value), node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        inner = node.operand
        if isinstance(node.op, ast.Not) and isinstance(inner, ast.Compare) and len(inner.ops) == 1:
            negated = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In,
                       ast.Is: ast.IsNot, ast.IsNot: ast.Is}.get(type(inner.ops[0]))
            if negated:
                return ast.copy_location(ast.Compare(inner.left, [negated()], inner.comparators), node)
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        if len(node.ops) == 1 and is_none(node.left) and not is_none(node.comparators[0]):
            node.left, node.comparators = node.comparators[0], [node.left]
        if len(node.ops) == 1 and is_none(node.comparators[0]):
            node.ops = [{ast.Eq: ast.Is, ast.NotEq: ast.IsNot}.get(type(node.ops[0]), type(node.ops[0]))()]
        return node

    def visit_If(self, node: ast.If) -> ast.AST:
        self.generic_visit(node)
        positive = get_positive(node.test)
        if node.orelse and positive is not None:
            node.test, node.body, node.orelse = positive, node.orelse, node.body
        return node

    def generic_visit(self, node: ast.AST) -> ast.AST:
        super().generic_visit(node)
        if not isinstance(node, ast.Module) and getattr(node, "body", None) == []:
            node.body = [ast.Pass()]  # a block whose docstring was its only statement
        return node


NEGATED_OPS = {ast.NotEq: ast.Eq, ast.NotIn: ast.In, ast.IsNot: ast.Is}


def get_positive(test: ast.AST) -> ast.AST | None:
    """For a negative test (``not c``, ``a != b``, ``a not in b``, ``a is not b``), the positive one; else None."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return test.operand
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and type(test.ops[0]) in NEGATED_OPS:
        return ast.Compare(test.left, [NEGATED_OPS[type(test.ops[0])]()], test.comparators)
    return None


def is_none(node: ast.AST) -> bool:
    """True for the literal ``None``."""
    return isinstance(node, ast.Constant) and node.value is None
