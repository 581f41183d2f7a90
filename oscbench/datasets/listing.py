"""The text of ``oscbench datasets list`` and ``datasets show``: registry facts and local status, for people."""
from __future__ import annotations

from typing import Any

from oscbench.datasets.registry import DatasetEntry, get


def format_table(es: list[DatasetEntry]) -> str:
    """The text of ``oscbench datasets list``."""
    rows = [f"{'id':<36}{'kind':<18}{'steps':>9}{'F':>5}{'size':>10}  {'local':<12}excluded"]
    for e in es:
        steps = f"{e.steps:,}" if e.steps else "any"
        size = f"{e.dataset_bytes / 1e6:.1f} MB" if e.dataset_bytes else "-"
        excl = f"yes ({e.extra.get('excluded_short', e.excluded_reason)})" if e.excluded else ""
        rows.append(f"{e.id:<36}{e.kind:<18}{steps:>9}{e.n_features:>5}{size:>10}  {e.local_status():<12}{excl}")
    return "\n".join(rows)


def show(dataset_id: str) -> dict[str, Any]:
    """Registry facts of an id plus, when its file is present, the file's summary (``datasets show``)."""
    e = get(dataset_id)
    d = e.to_dict()
    if e.kind == "atari":
        from oscbench.datasets.atari import games as G

        facts = G.game_facts(e.extra["game"])
        d["registry"] = {k: v for k, v in facts.items() if k not in ("fingerprint", "prefix")}
        fp = facts.get("fingerprint")
        if fp:
            ends = fp["episode_ends"]
            done = [s for s, x in zip(fp["episode_scores"], ends) if x != "x"]
            d["fingerprint"] = {"frames_sha256": fp["frames_sha256"], "episodes_complete": len(done),
                                "time_limited": ends.count("t"),
                                "mean_score_complete": (sum(done) / len(done)) if done else None}
            d["generated_with"] = G.registry_data().get("generated_with")
        if e.local_path().is_file():
            from oscbench.datasets.info import dataset_info

            d["file"] = dataset_info(e.local_path(), verify=False)
    return d


def format_show(d: dict[str, Any]) -> str:
    lines = [f"id          {d['id']}   (kind {d['kind']})", f"about       {d['description']}"]
    lines.append(f"steps       {d['steps']:,}" if d["steps"] else "steps       any (generated on the fly)")
    lines.append(f"features    {d['n_features']}   gamma {d['gamma']}")
    if d.get("source"):
        lines.append(f"source      {d['source']}")
        lines.append(f"sha256      {d['sha256']}   ({d['download_bytes']:,} bytes)")
    if d.get("suites"):
        lines.append(f"suites      {', '.join(d['suites'])}")
    if d.get("excluded"):
        lines.append(f"excluded    yes: {d['excluded_reason']}")
    if d.get("fingerprint"):
        fp = d["fingerprint"]
        ms = fp["mean_score_complete"]
        lines.append(f"replay      {fp['episodes_complete']} complete episodes ({fp['time_limited']} at the 108k-frame "
                     f"cap), mean raw score {ms:.1f}" if ms is not None else
                     f"replay      {fp['episodes_complete']} complete episodes")
        lines.append(f"frames      sha256 {fp['frames_sha256']}")
        gw = d.get("generated_with") or {}
        if gw:
            lines.append("made with   " + ", ".join(f"{k} {v}" for k, v in gw.items()))
    lines.append(f"local       {d['local_status']}   {d['local_path']}")
    if d.get("file"):
        from oscbench.datasets.info import format_info

        lines += ["", "local file:", format_info(d["file"])]
    return "\n".join(lines)
