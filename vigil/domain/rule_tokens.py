"""The rule language's tokens: expression text cut into numbers, strings, names and symbols.

Names are dotted paths of ASCII identifiers; no segment may start with '__' or be a keyword.
Strings take single or double quotes and a short list of backslash escapes (see `_ESCAPES`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from vigil.domain.rule_tree import LiteralValue

KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "null"})
_OPERATORS = ("==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "%", "(", ")", "[", "]", ",")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r"}
_HEX = frozenset("0123456789abcdefABCDEF")


class SyntaxMistake(Exception):
    """A mistake at offset `at` of the text; `parse` turns it into a RuleSyntaxError."""

    def __init__(self, at: int, message: str) -> None:
        super().__init__(message)
        self.at = at
        self.message = message


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    """number, string, name, symbol (an operator or keyword), or end."""
    text: str
    value: LiteralValue
    at: int

    def shown(self) -> str:
        if self.kind == "end":
            return "the end of the expression"
        return "a string" if self.kind == "string" else f"'{self.text}'"


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    at = 0
    while at < len(text):
        char = text[at]
        if char in " \t\r\n":
            at += 1
            continue
        if char.isascii() and (char.isalpha() or char == "_"):
            token = _name(text, at)
        elif char in "0123456789":
            token = _number(text, at)
        elif char in "'\"":
            token = _string(text, at)
        else:
            token = _operator(text, at)
        tokens.append(token)
        at += len(token.text)
    tokens.append(Token("end", "", None, len(text)))
    return tokens


def _name(text: str, at: int) -> Token:
    match = _NAME.match(text, at)
    assert match is not None  # the caller saw a letter or '_'
    word = match.group()
    if text.startswith(".", match.end()):
        raise SyntaxMistake(match.end() + 1, "expected a name after '.'")
    segments = word.split(".")
    offset = at
    for segment in segments:
        if segment.startswith("__"):
            raise SyntaxMistake(offset, f"names starting with '__' are not allowed ({segment})")
        if segment in KEYWORDS and len(segments) > 1:
            raise SyntaxMistake(offset, f"'{segment}' is a keyword and cannot be part of a name")
        offset += len(segment) + 1
    if word in KEYWORDS:
        literal = {"true": True, "false": False, "null": None}
        return Token("symbol", word, literal.get(word), at)
    return Token("name", word, None, at)


def _number(text: str, at: int) -> Token:
    match = _NUMBER.match(text, at)
    assert match is not None  # the caller saw a digit
    end = match.end()
    if text.startswith(".", end):
        raise SyntaxMistake(end, "expected digits after '.' in a number")
    if end < len(text) and (text[end].isalnum() or text[end] == "_"):
        raise SyntaxMistake(end, f"unexpected '{text[end]}' after the number {match.group()}")
    if match.group(1) is None and match.group(2) is None:
        return Token("number", match.group(), int(match.group()), at)
    value = float(match.group())
    if not math.isfinite(value):
        raise SyntaxMistake(at, f"the number {match.group()} is too large")
    return Token("number", match.group(), value, at)


def _string(text: str, at: int) -> Token:
    quote, chars, end = text[at], [], at + 1
    while end < len(text) and text[end] != quote:
        if text[end] != "\\":
            chars.append(text[end])
            end += 1
            continue
        escape = text[end + 1 : end + 2]
        if escape == "u" and len(text) >= end + 6 and set(text[end + 2 : end + 6]) <= _HEX:
            code = int(text[end + 2 : end + 6], 16)
            if 0xD800 <= code <= 0xDFFF:
                raise SyntaxMistake(end, "a '\\u' escape cannot name a surrogate")
            chars.append(chr(code))
            end += 6
        elif escape in _ESCAPES:
            chars.append(_ESCAPES[escape])
            end += 2
        elif escape:
            raise SyntaxMistake(
                end, "unknown escape in a string; use \\\\ \\' \\\" \\n \\t \\r \\uXXXX"
            )
        else:
            end = len(text)  # a backslash as the last character leaves the string open
    if end >= len(text):
        raise SyntaxMistake(at, f"the string opened here is not closed with {quote}")
    return Token("string", text[at : end + 1], "".join(chars), at)


def _operator(text: str, at: int) -> Token:
    for operator in _OPERATORS:
        if text.startswith(operator, at):
            return Token("symbol", operator, None, at)
    char = text[at]
    hints = {"=": "; compare with '=='", "!": "; write '!=' or 'not'", "&": "; write 'and'"}
    hints |= {"|": "; write 'or'", ".": "; a name or digit goes before '.'"}
    raise SyntaxMistake(at, f"unexpected character {char!r}{hints.get(char, '')}")
