"""Each bench writes its table into a docs page between its own markers, leaving the rest of the page."""

from __future__ import annotations

from pathlib import Path


def write_section(path: Path, name: str, table: str) -> None:
    """Replace the text between `<!-- name -->` and `<!-- /name -->`, or append the section."""
    begin, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    text = path.read_text() if path.exists() else ""
    block = f"{begin}\n{table}\n{end}"
    if begin in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)
