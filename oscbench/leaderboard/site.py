"""``oscbench leaderboard build``: ``leaderboard/README.md`` and the static site ``leaderboard/site/``.

The site is one ``index.html`` (tables rendered at build time, every submission field HTML-escaped,
only http(s) URLs as links), ``assets/`` (CSS, and JS that only sorts and filters rows), and
``plots/*.svg``. It needs no server and no network (open ``index.html`` from disk); a Content
Security Policy allows only its own files.

The build is deterministic (same entries -> byte-identical files) and all-or-nothing: everything is
written to a temporary directory next to ``site/`` and swapped in only when complete; a failure
leaves the previous site and README untouched.
"""
from __future__ import annotations

import contextlib
import html
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from oscbench._atomic import write_failed, write_text_atomic
from oscbench.errors import OscbenchError
from oscbench.leaderboard import entries as E
from oscbench.leaderboard import plots
from oscbench.leaderboard.ranking import board_id, board_title, build_boards, empty_boards, order_boards
from oscbench.leaderboard.render_markdown import (README_HEAD, board_notes, boards_markdown, fmt_ci, fmt_excess,
                                                  fmt_num, fmt_rate, fmt_steps, rank_label, row_flags, safe_url,
                                                  splice)
from oscbench.leaderboard.validation import check_entry

ASSETS = ("leaderboard.css", "leaderboard.js")
CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'"


def esc(text: Any) -> str:
    """HTML-escape any value (quotes too), for text and attribute values."""
    return html.escape("" if text is None else str(text), quote=True)


def load_valid_entries(root: Path, *, check_data: bool = False) -> list[tuple[Path, dict[str, Any]]]:
    """Every entry under ``root``; OscbenchError naming the first invalid one (the build publishes no bad entry)."""
    out = []
    for path, entry in E.iter_entries(root):
        problems = check_entry(entry, path, check_data=check_data)
        if problems:
            raise OscbenchError(f"entry {path} is invalid ({problems[0]}); run `oscbench leaderboard validate` "
                                "for every problem, fix or remove it, then build again.")
        out.append((path, entry))
    return out


# -- HTML ------------------------------------------------------------------------------------------
def _th(label: str, num: bool, title: str = "") -> str:
    t = f' title="{esc(title)}"' if title else ""
    cls = ' class="num"' if num else ""
    return f'<th{cls} data-type="{"num" if num else "text"}"{t}><button type="button">{esc(label)}</button></th>'


def _num_td(value: float | None, text: str) -> str:
    sort = "" if value is None else repr(float(value))
    return f'<td class="num" data-sort="{esc(sort)}">{esc(text)}</td>'


def _badge_title(kind: str, r: Mapping[str, Any], names: Mapping[str, str]) -> str:
    if kind == "tie":
        others = ", ".join(names.get(f, f) for f in r.get("tied_with") or [])
        return (f"rank group {r['group']}: entries whose 95% CIs overlap, directly or through a chain, share a rank"
                + (f"; this CI overlaps: {others}" if others else ""))
    return {"ver-verified": "re-executed by the leaderboard and reproduced",
            "ver-unverified": "not (yet) re-executed by the leaderboard",
            "ver-failed": "re-execution did not reproduce the submitted results"}.get(kind, "")


def _name_td(r: Mapping[str, Any], names: Mapping[str, str]) -> str:
    url = safe_url(r.get("url"))
    name = esc(r["name"])
    link = f'<a href="{esc(url)}" rel="nofollow noopener noreferrer">{name}</a>' if url else name
    badges = []
    for kind, short, _ in row_flags(r):
        title = _badge_title(kind, r, names)
        attr = f' title="{esc(title)}"' if title else ""
        badges.append(f'<span class="badge {kind}"{attr}>{esc(short)}</span>')
    parts = [f'<span class="entry-name">{link}</span><span class="badges">{"".join(badges)}</span>']
    if r.get("authors"):
        parts.append(f'<div class="authors">{esc(", ".join(r["authors"]))}</div>')
    if r.get("description"):
        parts.append(f'<div class="desc">{esc(r["description"])}</div>')
    hp = ", ".join(f"{k}={v}" for k, v in sorted(r.get("hyperparameters", {}).items()))
    parts.append(f'<div class="cmd">learner <code>{esc(r["learner"])}</code>{": " + esc(hp) if hp else ""}</div>')
    if r.get("command"):
        parts.append(f'<div class="cmd">produced by <code>{esc(r["command"])}</code></div>')
    return f'<td data-sort="{esc(str(r["name"]).lower())}">{"".join(parts)}</td>'


def _row_attrs(r: Mapping[str, Any]) -> str:
    cls = [c for c, on in (("leader", r.get("leader")), ("tied", r.get("tied")), ("superseded", r.get("superseded"))) if on]
    search = " ".join([str(r["name"]), " ".join(r.get("authors", [])), str(r["learner"]), str(r.get("description") or "")])
    group = "" if r.get("group") is None else f' data-group="{r["group"]}"'
    return (f'class="{" ".join(["entry"] + cls)}" data-file="{esc(r["file"])}"{group} '
            f'data-verification="{esc(r.get("verification") or "")}" data-search="{esc(search.lower())}"')


def _rank_td(r: Mapping[str, Any]) -> str:
    return _num_td(r.get("rank"), rank_label(r))


def board_table(board: Mapping[str, Any]) -> str:
    """The entries table of one board (``table.entries.sortable``); trace boards with a Bayes floor get
    an excess column and the floor as a reference line in the table's foot."""
    rows = board["rows"]
    names = {r["file"]: str(r["name"]) for r in rows}
    foot = ""
    if board["kind"] == "suite":
        head = [_th("rank", True), _th("submission", False), _th("IQM NMSE", True, "interquartile mean of per-run NMSE"),
                _th("95% CI", False, "stratified bootstrap"), _th("games", True), _th("seeds/game", True),
                _th("FLOPs/step", True), _th("date", False)]
        body = [f'<tr {_row_attrs(r)}>{_rank_td(r)}{_name_td(r, names)}'
                f'{_num_td(r["iqm"][0] if r["iqm"] else None, fmt_num(r["iqm"][0] if r["iqm"] else None))}'
                f'<td class="ci">{esc(fmt_ci(r["iqm"]))}</td>{_num_td(r["n_games"], str(r["n_games"]))}'
                f'{_num_td(r["seeds"], str(r["seeds"]))}{_num_td(r["flops_per_step"], format(r["flops_per_step"], ","))}'
                f'<td class="date">{esc(r["submitted"])}</td></tr>' for r in rows]
    else:
        fl = board.get("floor")
        excess = (lambda r: _num_td(r.get("excess_nmse"), fmt_excess(r))) if fl else (lambda r: "")  # noqa: E731
        head = [_th("rank", True), _th("submission", False), _th("NMSE", True, "mean over seeds"),
                _th("95% CI", False, "percentile bootstrap over seeds")]
        if fl:
            head.append(_th("excess", True, "NMSE − the Bayes floor's NMSE on the entry's own seeds and run length"))
        head += [_th("rel. error", True, "relative error: final error ÷ the reference T-BPTT entry's"),
                 _th("FLOPs/step", True), _th("seeds", True), _th("steps", True),
                 _th("steps/s", True, "steps per CPU-second"), _th("date", False)]
        body = [f'<tr {_row_attrs(r)}>{_rank_td(r)}{_name_td(r, names)}'
                f'{_num_td(r["nmse"][0] if r["nmse"] else None, fmt_num(r["nmse"][0] if r["nmse"] else None))}'
                f'<td class="ci">{esc(fmt_ci(r["nmse"]))}</td>{excess(r)}'
                f'{_num_td(r["relative_error"], fmt_num(r["relative_error"], 3))}'
                f'{_num_td(r["flops_per_step"], format(r["flops_per_step"], ","))}{_num_td(r["seeds"], str(r["seeds"]))}'
                f'{_num_td(r["steps"], fmt_steps(r["steps"]))}'
                f'{_num_td(r["steps_per_second"], fmt_rate(r["steps_per_second"]))}'
                f'<td class="date">{esc(r["submitted"])}</td></tr>' for r in rows]
        if fl and fl.get("nmse") is not None:
            foot = (f'<tfoot><tr class="floor"><td></td><td>Bayes floor <span class="note">(no learner can do better: '
                    f'the ISI is random)</span></td><td class="num">{esc(fmt_num(fl["nmse"]))}</td>'
                    f'<td colspan="{len(head) - 3}" class="note">seeds {fl["seeds"][0]}–{fl["seeds"][-1]}, '
                    f'{esc(fmt_steps(fl["steps"]))} steps; long-run {esc(fmt_num(fl["stationary_nmse"]))}</td></tr></tfoot>')
    return ('<div class="table-wrap"><table class="entries sortable">'
            f'<thead><tr>{"".join(head)}</tr></thead><tbody>{"".join(body)}</tbody>{foot}</table></div>')


def _suite_extras(board: Mapping[str, Any]) -> str:
    """Per-game NMSE table and the probability-of-improvement matrix of a suite board."""
    rows = [r for r in board["rows"] if not r["superseded"]]
    head = "".join([_th("game", False)] + [_th(r["name"], True) for r in rows])
    body = []
    for g in board["games"]:
        cells = "".join(_num_td(r["per_game"].get(g), fmt_num(r["per_game"].get(g))) for r in rows)
        body.append(f"<tr><td>{esc(g)}</td>{cells}</tr>")
    out = [f'<details class="per-game"><summary>NMSE per game (mean over seeds), {len(board["games"])} games'
           '</summary><div class="table-wrap"><table class="per-game sortable">'
           f'<thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div></details>']
    poi = board["probability_of_improvement"]
    if len(poi["order"]) > 1:
        names = {r["file"]: r["name"] for r in board["rows"]}
        hdr = "".join(f'<th class="num">{esc(names[f])}</th>' for f in poi["order"])
        trs = []
        for f, line in zip(poi["order"], poi["matrix"]):
            cells = "".join(f'<td class="num">{"—" if v is None else f"{v:.2f}"}</td>' for v in line)
            trs.append(f"<tr><th>{esc(names[f])}</th>{cells}</tr>")
        out.append('<h3>Probability of improvement</h3><p class="note">P(row has lower error than column) on a '
                   'random game, averaged over games (rliable\'s definition; 0.5 = no difference).</p>'
                   f'<div class="table-wrap"><table class="poi"><thead><tr><th></th>{hdr}</tr></thead>'
                   f'<tbody>{"".join(trs)}</tbody></table></div>')
    return "".join(out)


def _figure(src: str, alt: str, caption: str) -> str:
    return (f'<figure><img src="{esc(src)}" alt="{esc(alt)}" loading="eager">'
            f'<figcaption>{esc(caption)}</figcaption></figure>')


def _section(b: Mapping[str, Any], plot_files: Mapping[str, list[tuple[str, str, str]]]) -> str:
    bid = board_id(b)
    smoke = (f'<p class="not-for-ranking"><strong>Not for ranking.</strong> {esc(b["not_for_ranking"])}.</p>'
             if b.get("not_for_ranking") else "")
    tag = ' <span class="tag smoke">smoke · not for ranking</span>' if b.get("not_for_ranking") else ""
    notes = "".join(f'<p class="note">{esc(n)}</p>' for n in board_notes(b) if not n.startswith("Not for ranking"))
    if not b["rows"]:  # collapsed: one line until opened
        return (f'<section class="board empty" id="{esc(bid)}" data-preset="{esc(b["preset"])}"><details><summary>'
                f'<h2>{esc(board_title(b))}{tag}</h2> <span class="note">no entries yet</span></summary>'
                f'{smoke}{notes}</details></section>')
    figs = "".join(_figure(*f) for f in plot_files.get(bid, []))
    extras = _suite_extras(b) if b["kind"] == "suite" else ""
    return (f'<section class="board" id="{esc(bid)}" data-preset="{esc(b["preset"])}"><h2>{esc(board_title(b))}{tag}</h2>'
            f'{smoke}{board_table(b)}{notes}{extras}<div class="plots">{figs}</div></section>')


def render_page(boards: Sequence[Mapping[str, Any]], plot_files: Mapping[str, list[tuple[str, str, str]]],
                n_entries: int) -> str:
    """The whole ``index.html``. ``boards`` in page order (boards without rows are shown collapsed; the
    per-game boards of a suite collapsed under it); ``plot_files``: board id -> [(relative src, alt, caption)]."""
    nav = "".join(f'<li><a href="#{esc(board_id(b))}">{esc(board_title(b))}</a>'
                  f'{" <span class=note>(no entries)</span>" if not b["rows"] else ""}</li>'
                  for b in boards if b["kind"] != "game")
    options = "".join(f'<option value="{esc(board_id(b))}">{esc(board_title(b))}</option>' for b in boards)
    sections: list[str] = []
    i = 0
    while i < len(boards):
        b = boards[i]
        if b["kind"] != "game":
            sections.append(_section(b, plot_files))
            i += 1
            continue
        j = i
        while j < len(boards) and boards[j]["kind"] == "game" and (boards[j]["task"], boards[j]["preset"]) == \
                (b["task"], b["preset"]):
            j += 1
        inner = "".join(_section(g, plot_files) for g in boards[i:j])
        sections.append(f'<details class="game-boards"><summary>{esc(b["task"])} · {esc(b["preset"])}: '
                        f'{j - i} per-game boards</summary>{inner}</details>')
        i = j
    empty = "" if any(b["rows"] for b in boards) else \
        '<p class="note">No entries yet: submit with <code>oscbench submit</code>.</p>'
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">
<meta name="referrer" content="no-referrer">
<title>oscbench leaderboard</title>
<link rel="stylesheet" href="assets/leaderboard.css">
<script src="assets/leaderboard.js" defer></script>
</head>
<body>
<header>
<h1>oscbench leaderboard</h1>
<p class="lede">Online state construction benchmarks (trace patterning, Atari prediction). Entries are ranked by
mean normalized return error (NMSE: final error over the last 200k steps ÷ the target's variance there; 0 is
perfect, 1 is the best constant prediction) with 95% bootstrap confidence intervals over seeds. Ranks come in
groups: entries whose intervals overlap, directly or through a chain of overlapping intervals, share a rank
(shown <em>=k</em>), since the data do not order them. Smoke boards are checks, not for ranking. Trace-patterning
boards show the Bayes floor, the error no learner can beat, and each entry's excess over it. Badges show whether
an entry was verified by re-execution. {n_entries} entries.</p>
<div class="controls">
<label>Filter rows <input id="filter" type="search" placeholder="name, author, learner" autocomplete="off"></label>
<label>Board <select id="board-filter"><option value="">all boards</option>{options}</select></label>
<label><input id="show-superseded" type="checkbox"> show superseded entries</label>
</div>
<nav><ul>{nav}</ul></nav>
</header>
<main>
{empty}{"".join(sections)}
</main>
<footer>Built by <code>oscbench leaderboard build</code> from <code>leaderboard/submissions/</code>. Click a column
heading to sort; NMSE and relative error: lower is better. The filters are kept in the address (query string), so
a filtered view can be bookmarked or shared.</footer>
</body>
</html>
"""


# -- build -----------------------------------------------------------------------------------------
@dataclass
class BuildResult:
    """What :func:`build` wrote."""

    site: Path
    readme: Path
    files: list[str]
    boards: int
    entries: int


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))


def _render_into(tmp: Path, boards: Sequence[Mapping[str, Any]], n_entries: int) -> None:
    plot_files: dict[str, list[tuple[str, str, str]]] = {}
    for b in boards:
        bid, title = board_id(b), board_title(b)
        made = []
        curves = ("curves", plots.learning_curves, "learning curves: mean over seeds, shaded 95% bootstrap band")
        if b["kind"] == "suite":
            specs = [("per-game", plots.atari_bars, "per-game error of each complete entry, "
                      "÷ the reference T-BPTT's on that game (the paper's Figure 7)"),
                     ("pareto", plots.pareto, "IQM NMSE against declared FLOPs/step: the Pareto front and the budget")]
        elif b["kind"] == "game":  # one Atari game: its curves (the suite board has the compute plot)
            specs = [curves]
        else:
            specs = [curves, ("pareto", plots.pareto, "NMSE against declared FLOPs/step: the Pareto front and the budget")]
        for suffix, fn, caption in specs:
            svg = fn(b)
            if svg is None:
                continue
            rel = f"plots/{bid}-{suffix}.svg"
            _write(tmp / rel, svg)
            made.append((rel, f"{title}: {caption}", caption))
        plot_files[bid] = made
    for name in ASSETS:
        _write(tmp / "assets" / name, resources.files("oscbench.leaderboard.assets").joinpath(name).read_text("utf-8"))
    _write(tmp / "boards.json", json.dumps(_boards_json(boards), indent=1, sort_keys=True, allow_nan=False) + "\n")
    _write(tmp / "index.html", render_page(boards, plot_files, n_entries))


def _boards_json(boards: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    from oscbench.leaderboard.ranking import to_json

    return to_json(boards)


def build(root: str | Path = Path("leaderboard"), *, check_data: bool = False) -> BuildResult:
    """Build ``<root>/README.md`` (tables between markers) and ``<root>/site/`` from ``<root>/submissions``.

    Refuses (OscbenchError) if any entry is invalid; on any failure nothing under ``root`` changes.
    """
    root = Path(root)
    return write_site(root, load_valid_entries(root, check_data=check_data))


def write_site(root: Path, entries: Sequence[tuple[Path | None, Mapping[str, Any]]]) -> BuildResult:
    """Write ``<root>/README.md`` and ``<root>/site/`` from ``entries`` (already validated: :func:`build`
    validates them first), all or nothing."""
    boards = build_boards(entries)
    page_boards = order_boards([*boards, *empty_boards(boards)])
    readme = root / "README.md"
    old_readme = readme.read_text(encoding="utf-8") if readme.exists() else README_HEAD
    new_readme = splice(old_readme, boards_markdown(boards))
    site = root / "site"
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".site.tmp-{os.getpid()}"
    old = root / f".site.old-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        _render_into(tmp, page_boards, len(entries))
        files = sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file())
        if site.exists():
            os.replace(site, old)
        os.replace(tmp, site)
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not site.exists():
            os.replace(old, site)
        if isinstance(err, OSError):   # e.g. a full disk: one line, the old site kept
            raise write_failed(site, err) from None
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(old)
    write_text_atomic(readme, new_readme, overwrite=True)
    return BuildResult(site, readme, files, len(boards), len(entries))
