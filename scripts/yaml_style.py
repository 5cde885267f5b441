"""Check (and rewrite) the project's dbt YAML in the style people read.

The rules (`make lint` runs ``check``; so does tests/python/test_project_rules.py):

1. lines are at most 100 characters;
2. list items are indented under their key (``columns:`` then ``  - name: ...``);
3. a description longer than one line is a folded block (``description: >``), never a quoted
   string running over several lines;
4. no anchors or aliases (``&id001`` / ``*id001``): each block says what it says;
5. no trailing whitespace, and the file ends with one newline.

``format FILE...`` rewrites files that hold no comments (PyYAML drops comments) in that style:
keys in their order, lists indented, long strings folded at 100 characters, anchors expanded.
Files with comments are only checked; fix them by hand.

Usage::

    python scripts/yaml_style.py check [FILE_OR_FOLDER ...]   # default: the dbt folders
    python scripts/yaml_style.py format FILE ...
"""

from __future__ import annotations

import re
import sys
import textwrap
from collections.abc import Iterable, Iterator
from pathlib import Path

import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_ROOTS = ("models", "seeds", "snapshots", "macros", "analyses", "tests")
MAX_LINE = 100
LIST_ITEM = re.compile(r"^(\s*)- ")
KEY_OPENING_BLOCK = re.compile(r"^(\s*)(- )?[A-Za-z_][\w\-]*:\s*$")
QUOTED_START = re.compile(r"^\s*(- )?description:\s*(['\"])")
ANCHOR = re.compile(r"(^|[\s\[{,])[&*]id\d+\b")


def yaml_files(arguments: Iterable[str]) -> Iterator[Path]:
    """Every ``.yml``/``.yaml`` file named, or found under the folders named."""
    names = list(arguments) or [str(PROJECT_DIR / root) for root in DEFAULT_ROOTS]
    for name in names:
        path = Path(name)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml"))
        elif path.suffix in (".yml", ".yaml"):
            yield path


def style_problems(text: str) -> list[tuple[int, str]]:
    """``(line number, problem)`` for every rule a YAML text breaks."""
    problems: list[tuple[int, str]] = []
    lines = text.split("\n")
    if text and not text.endswith("\n"):
        problems.append((len(lines), "the file does not end with a newline"))
    previous_key_indent: int | None = None
    for number, line in enumerate(lines, 1):
        if len(line) > MAX_LINE:
            problems.append((number, f"line is {len(line)} characters (at most {MAX_LINE})"))
        if line != line.rstrip():
            problems.append((number, "trailing whitespace"))
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if ANCHOR.search(line):
            problems.append((number, "anchor or alias: write the block out"))
        item = LIST_ITEM.match(line)
        if item and previous_key_indent is not None and len(item.group(1)) <= previous_key_indent:
            problems.append((number, "list item not indented under its key"))
        quoted = QUOTED_START.match(line)
        if quoted:
            quote = quoted.group(2)
            value = line.split("description:", 1)[1].strip()
            closed = len(value) > 1 and value.endswith(quote) and not value.endswith("\\" + quote)
            if not closed:
                problems.append((number, "multi-line quoted description: use 'description: >'"))
        opening = KEY_OPENING_BLOCK.match(line)
        if opening:
            previous_key_indent = len(opening.group(1)) + (2 if opening.group(2) else 0)
        else:
            previous_key_indent = None
    return problems


class _Dumper(yaml.SafeDumper):
    """Indented lists, no aliases."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def ignore_aliases(self, data: object) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if value.endswith("\n") and "\n" not in value.rstrip("\n"):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=">")
    if "\n" in value.rstrip("\n") and not value.startswith(" "):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    if len(value) > 60 and not value.startswith((" ", "-", "{", "[")):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=">")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _represent_str)


def _with_folded_descriptions(data: object) -> object:
    """Long descriptions end with a newline, so they are written ``description: >``."""
    if isinstance(data, dict):
        return {key: (value.rstrip("\n") + "\n"
                      if key == "description" and isinstance(value, str) and len(value) > 60
                      else _with_folded_descriptions(value))
                for key, value in data.items()}
    if isinstance(data, list):
        return [_with_folded_descriptions(item) for item in data]
    return data


def _same_data(left: object, right: object) -> bool:
    """Equal YAML data, ignoring trailing newlines of strings (folded blocks add one)."""
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_same_data(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(_same_data, left, right))
    if isinstance(left, str) and isinstance(right, str):
        return left.rstrip("\n") == right.rstrip("\n")
    return left == right


def _rewrapped_folded_blocks(text: str) -> str:
    """Re-wrap the body of every folded block (``>`` / ``>-``) at MAX_LINE characters.

    A folded block's lines are joined with single spaces when read, so re-wrapping its
    words (never breaking a word) keeps the value the same.
    """
    lines = text.split("\n")
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        out.append(line)
        index += 1
        if not re.search(r":\s*>-?\s*$", line):
            continue
        indent = len(line) - len(line.lstrip()) + 2
        body: list[str] = []
        while index < len(lines) and lines[index].startswith(" " * indent) \
                and lines[index].strip() and not lines[index][indent:].startswith(" "):
            body.append(lines[index].strip())
            index += 1
        wrapped = textwrap.wrap(" ".join(body), width=MAX_LINE - indent,
                                break_long_words=False, break_on_hyphens=False)
        for position in range(1, len(wrapped)):
            # A line reading "- x" or "# x" would look like a list item or a comment.
            if wrapped[position].startswith(("- ", "# ")) and " " in wrapped[position - 1]:
                head, last = wrapped[position - 1].rsplit(" ", 1)
                wrapped[position - 1], wrapped[position] = head, f"{last} {wrapped[position]}"
        out += [" " * indent + part for part in wrapped]
    return "\n".join(out)


def formatted(text: str) -> str:
    """The YAML text rewritten in the project's style (comments are not kept)."""
    data = _with_folded_descriptions(yaml.safe_load(text))
    out = yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=MAX_LINE - 20,
                    allow_unicode=True, default_flow_style=False)
    out = _rewrapped_folded_blocks(out)
    # Separate top-level list entries (models, sources, ...) with a blank line.
    out = re.sub(r"\n(  - name: )", r"\n\n\1", out)
    out = re.sub(r"\n\n(  - name: )", r"\n\n\1", out)
    return out.replace(":\n\n  - name:", ":\n  - name:")


def main(argv: list[str]) -> int:
    """``check`` or ``format``; exit 1 when a checked file breaks a rule."""
    if not argv or argv[0] not in ("check", "format"):
        print(__doc__.split("Usage::")[1].strip("\n"), file=sys.stderr)
        return 2
    command, arguments = argv[0], argv[1:]
    failures = 0
    for path in yaml_files(arguments):
        text = path.read_text(encoding="utf-8")
        if command == "format":
            if re.search(r"^\s*#", text, flags=re.MULTILINE):
                print(f"{path}: has comments, not rewritten (fix by hand)")
            else:
                new = formatted(text)
                if not _same_data(yaml.safe_load(new), yaml.safe_load(text)):
                    raise SystemExit(f"{path}: rewriting would change the data; not written")
                path.write_text(new, encoding="utf-8")
            text = path.read_text(encoding="utf-8")
        for number, problem in style_problems(text):
            failures += 1
            try:
                shown = path.relative_to(PROJECT_DIR)
            except ValueError:
                shown = path
            print(f"{shown}:{number}: {problem}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
