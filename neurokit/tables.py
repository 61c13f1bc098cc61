"""Plain-text tables for every command's human-readable output (presentation only)."""
from __future__ import annotations


def text_table(headers: list[str], rows: list[list], indent: str = "  ") -> list[str]:
    """Lines of a table: the first column left-aligned, the others right-aligned, a rule under the header."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def fmt(r):
        return indent + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))

    return [fmt(cells[0]), indent + "  ".join("-" * w for w in widths)] + [fmt(r) for r in cells[1:]]


def si(x: float, unit: str) -> str:
    """x with an SI prefix: 1.2e-6 J -> '1.2 µJ'."""
    for scale, prefix in ((1e-12, "p"), (1e-9, "n"), (1e-6, "µ"), (1e-3, "m"), (1, "")):
        if abs(x) < scale * 1000:
            return f"{x / scale:.3g} {prefix}{unit}"
    return f"{x:.3g} {unit}"
