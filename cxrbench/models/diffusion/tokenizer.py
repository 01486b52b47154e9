"""A CLIP tokenizer built offline from a word list (the task prompts), so nothing is downloaded.

CLIP's byte-level BPE needs a vocabulary and merge rules. The base vocabulary is CLIP's 256 byte
symbols, each alone and as a word end (``</w>``), so any text can be encoded; each task word then
gets a left-to-right chain of merges, so that a prompt word usually becomes one token.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
END = "</w>"


def byte_symbols() -> list[str]:
    """CLIP's (and GPT-2's) printable stand-ins for the 256 byte values, in byte order."""
    printable = (
        list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    )
    symbols, extra = {}, 0
    for b in range(256):
        if b in printable:
            symbols[b] = chr(b)
        else:
            symbols[b] = chr(256 + extra)
            extra += 1
    return [symbols[b] for b in range(256)]


def words_of(texts: Iterable[str]) -> list[str]:
    """Lower-case words and punctuation marks of ``texts``, first occurrence order, no duplicates."""
    found: dict[str, None] = {}
    for text in texts:
        for word in re.findall(r"[a-z]+|[0-9]|[^\sa-z0-9]", text.lower()):
            found[word] = None
    return list(found)


def vocabulary(words: Iterable[str]) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """(token -> id, merge rules (left, right) in rank order) for CLIP's BPE covering ``words``."""
    tokens: dict[str, None] = {}
    for symbol in byte_symbols():
        tokens[symbol] = None
    for symbol in byte_symbols():
        tokens[symbol + END] = None
    merges: dict[tuple[str, str], None] = {}
    for word in words:
        pieces = list(word[:-1]) + [word[-1] + END]
        merged = pieces[0]
        for piece in pieces[1:]:
            merges[(merged, piece)] = None
            merged += piece
            tokens[merged] = None
    tokens[BOS] = None
    tokens[EOS] = None
    return {token: i for i, token in enumerate(tokens)}, list(merges)


def build_tokenizer(texts: Iterable[str], max_length: int):
    """A ``transformers.CLIPTokenizer`` whose words come from ``texts``; pads to ``max_length`` tokens."""
    from transformers import CLIPTokenizer

    vocab, merges = vocabulary(words_of(texts))
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=max_length)


def load_tokenizer(directory: Path):
    """A tokenizer saved by ``save_pretrained`` in ``directory``; local files only."""
    from transformers import CLIPTokenizer

    return CLIPTokenizer.from_pretrained(str(directory), local_files_only=True)
