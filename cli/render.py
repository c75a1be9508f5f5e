"""Readable terminal output for search results: verdict, origins, licenses, matched lines side by side."""

from __future__ import annotations

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from whence.index.licenses import Category, classify
from whence.index.search import Match, SearchResult
from whence.terminal import printable

# Everything printed here that comes from the index (repository names, paths, licenses, URLs, source
# lines) -- and the query's own lines -- goes through ``printable``: no control sequence reaches the
# terminal.

_VERDICT_STYLE = {
    "verbatim": "bold red",
    "near-duplicate": "bold yellow",
    "weak": "yellow",
    "none": "bold green",
}
_CATEGORY_STYLE: dict[Category, str] = {
    "public-domain": "green",
    "permissive": "cyan",
    "weak-copyleft": "yellow",
    "copyleft": "red",
    "unknown": "magenta",
}
_CONTEXT = 40  # most lines of a span shown side by side


def _line(lines: list[str], number: int) -> str:
    return printable(lines[number - 1], keep_tabs=True) if 0 < number <= len(lines) else ""


def _row_pairs(
    pairs: tuple[tuple[int, int], ...], query: tuple[int, int], source: tuple[int, int]
) -> list[tuple[int, int]]:
    """Rows (query line, source line; 0 = none) for a span.

    Lines with matched tokens are paired as matched.  Lines between them (blank lines, comments,
    quotes) are paired in order while both sides have lines left, the rest shown on their side only.
    """
    mapped: dict[int, int] = {}
    for q, s in pairs:
        mapped.setdefault(q, s)
    rows: list[tuple[int, int]] = []
    q, s = query[0], source[0]
    anchors = [*sorted(mapped.items()), (query[1] + 1, source[1] + 1)]
    for aq, as_ in anchors:
        while q < aq and s < as_:
            rows.append((q, s))
            q, s = q + 1, s + 1
        rows.extend((qi, 0) for qi in range(q, aq))
        rows.extend((0, si) for si in range(s, as_))
        if aq <= query[1]:
            rows.append((aq, as_))
        q, s = aq + 1, max(s, as_ + 1)
    return rows


def _side_by_side(match: Match, query_lines: list[str]) -> Table:
    source_lines = (match.source_text or "").splitlines()
    table = Table(show_header=True, header_style="bold", expand=True, box=None, pad_edge=False)
    table.add_column("#", justify="right", style="dim", no_wrap=True)
    table.add_column("your code", overflow="fold", ratio=1)
    table.add_column("#", justify="right", style="dim", no_wrap=True)
    table.add_column(printable(match.primary.path) or "source", overflow="fold", ratio=1)
    for span in match.spans[:3]:
        for qi, si in _row_pairs(span.line_pairs, span.query_lines, span.source_lines)[:_CONTEXT]:
            q = _line(query_lines, qi) if qi else ""
            src = _line(source_lines, si) if si else ""
            style = "green" if qi and si and q.strip() == src.strip() else "yellow"
            table.add_row(
                str(qi or ""),
                Text(q.expandtabs(4), style=style),
                str(si or ""),
                Text(src.expandtabs(4), style=style),
            )
        rows = span.query_lines[1] - span.query_lines[0] + 1
        if rows > _CONTEXT:
            table.add_row("", Text(f"… {rows - _CONTEXT} more lines", style="dim"), "", "")
        table.add_row("", "", "", "")
    return table


def render_result(result: SearchResult, query: str, console: Console | None = None) -> None:
    """Print ``result`` for a person."""
    console = console or Console()
    verdict = result.verdict
    head = Text.assemble(
        ("verdict: ", "bold"),
        (verdict, _VERDICT_STYLE[verdict]),
        f"   query: {result.lines} lines, {result.tokens} tokens",
    )
    console.print(head)
    if not result.matches:
        console.print("No attributable match in the index.")
        return
    query_lines = query.splitlines()
    for n, m in enumerate(result.matches, 1):
        occ = m.primary
        info = classify(occ.licenses)
        # The header and the URL are printed above the box, not as its title or inside it: a title is cut
        # to the box's width, and a boxed URL is split over lines that cannot be copied whole.  The header
        # wraps between words; the URL is printed on one logical line (the terminal wraps it, and copies
        # it back whole) and is a terminal hyperlink where the terminal supports them.
        header = Text.assemble(
            (f"{n}. ", "bold"),
            (m.verdict, _VERDICT_STYLE[m.verdict]),
            "  ",
            (printable(f"{occ.repo}/{occ.path}"), "bold"),
            "\n   ",
            (
                printable(f" {', '.join(occ.licenses) or 'no license'} "),
                f"reverse {_CATEGORY_STYLE[info.category]}",
            ),
            f"  {info.category}{' · attribution required' if info.attribution_required else ''}",
        )
        console.print(header, overflow="fold")
        if m.spans:
            first, last = m.spans[0].source_lines
            url = printable(occ.url_for_lines(first, last))
            if url:
                console.print(Text(url, style=f"underline blue link {url}"), soft_wrap=True)
        lines: list[Text | Table] = [
            Text(
                f"score {m.score:.2f} · {m.matched_tokens} matched tokens · longest span "
                f"{m.longest_span_tokens} tokens",
                style="dim",
            )
        ]
        if len(m.occurrences) > 1:
            others = ", ".join(printable(f"{o.repo}/{o.path}") for o in m.occurrences[1:6])
            more = f" and {len(m.occurrences) - 6} more" if len(m.occurrences) > 6 else ""
            lines.append(Text(f"also at: {others}{more}", style="dim"))
        lines.append(_side_by_side(m, query_lines))
        console.print(Panel(Group(*lines)))
