"""Reading a Word document the bot made, as a person would: its text in order."""

from __future__ import annotations

import io

import docx
from docx.table import Table


def docx_lines(data: bytes) -> list[str]:
    """Every paragraph, and every table row as its cells joined by ' | ', in document order."""
    lines = []
    for block in docx.Document(io.BytesIO(data)).iter_inner_content():
        if isinstance(block, Table):
            lines += [" | ".join(c.text for c in row.cells) for row in block.rows]
        elif block.text:
            lines.append(block.text)
    return lines
