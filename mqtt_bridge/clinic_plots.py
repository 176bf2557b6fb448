"""One page per station (PNG and PDF) from the clinic report: both hands on one grip plot,
pain over time, sensory thresholds with their 95 % intervals, and an adherence calendar.

The horizontal axis is the session number in the station's order (integer ticks, each
labelled with its date; ``r`` marks a date that is the clinic's receive time), so two
sessions on one day stay apart and no tick falls between sessions. Needs matplotlib (the
``clinic`` extra), imported only when drawing; no pyplot, no display.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mqtt_bridge import clinic_sensory

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def page_name(station_id: str, ext: str) -> str:
    """A file name safe on any filesystem for one station's page."""
    return f"{_UNSAFE.sub('_', station_id)}.{ext}"


def _ticks(ax: Any, sessions: list[dict[str, Any]]) -> None:
    from matplotlib.ticker import FixedLocator

    step = max(1, len(sessions) // 12)
    shown = sessions[::step]
    ax.xaxis.set_major_locator(FixedLocator([s["session"] for s in shown]))
    ax.set_xticklabels(
        [
            f"#{s['session']}\n{s['at'][5:10]}{'' if s['time_source'] == 'station' else ' r'}"
            for s in shown
        ],
        fontsize="x-small",
    )
    if sessions:
        ax.set_xlim(0.5, sessions[-1]["session"] + 0.5)


def _grip(ax: Any, st: dict[str, Any]) -> None:
    for i, role in enumerate(("involved", "uninvolved")):
        rows = [t for t in st["trends"] if t["metric"] == f"{role}_mean_force"]
        for t in rows:
            pts = t["points"]
            ax.errorbar(
                [p["session"] for p in pts],
                [p["value"] for p in pts],
                yerr=[p["uncertainty"] or 0.0 for p in pts],
                fmt="o-" if role == "involved" else "s--",
                color=f"C{i}",
                capsize=3,
                label=f"{role} ({t['hand'] or 'hand unknown'}) ± u",
            )
    ax.set_title(
        "grip: mean of trials, both hands (pad force, not a dynamometer)", fontsize="small"
    )
    ax.set_ylabel("N")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="x-small", loc="best")
    else:
        ax.text(0.5, 0.5, "no grip results", ha="center", transform=ax.transAxes)
        ax.set_yticks([])


def _pain(ax: Any, st: dict[str, Any]) -> None:
    rows = st["checkin"]
    for key, style, label in (("pain_before", "o-", "before"), ("pain_after", "s--", "after")):
        pts = [(r["session"], r[key]) for r in rows if r[key] is not None]
        if pts:
            ax.plot([x for x, _ in pts], [y for _, y in pts], style, label=label)
    at_rules = [(r["session"], v) for r in rows for v in r["pain_at_rules"]]
    if at_rules:
        ax.plot([x for x, _ in at_rules], [y for _, y in at_rules], "^", label="at a stop rule")
    stops = [r["session"] for r in rows if r["stop_rules"]]
    for x in stops:
        ax.axvline(x, color="red", alpha=0.3)
    if stops:
        ax.plot([], [], color="red", alpha=0.3, label="stop rule fired")
    ax.set_ylim(-0.5, 10.5)
    ax.set_ylabel("NRS 0-10")
    ax.set_title("pain", fontsize="small")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="x-small", loc="best")


def _sensory(ax: Any, st: dict[str, Any], proto: str | None) -> None:
    series = [g for g in st["sensory"]["series"] if g["protocol"] == proto]
    drawn = False
    for i, g in enumerate(series):
        a = [p for p in g["assessments"] if p["value"] is not None]
        t = [p for p in g["training"] if p["value"] is not None]
        colour = f"C{i % 10}"
        name = g["label"]
        if a:
            lo = [p["value"] - p["ci95"][0] if p["ci95"] else 0.0 for p in a]
            hi = [p["ci95"][1] - p["value"] if p["ci95"] else 0.0 for p in a]
            ax.errorbar(
                [p["session"] for p in a],
                [p["value"] for p in a],
                yerr=[lo, hi],
                fmt="o-",
                capsize=3,
                color=colour,
                label=f"{name} (95 %)",
            )
            drawn = True
        if t:
            ax.plot(
                [p["session"] for p in t],
                [p["value"] for p in t],
                "x",
                color=colour,
                label=f"{name} training",
            )
            drawn = True
    if proto is not None:
        what = clinic_sensory.SENSORY_PROTOCOLS[proto]
        ax.set_title(f"{what}, assessments with 95 % intervals (lower = better)", fontsize="small")
        ax.set_ylabel(", ".join(sorted({g["unit"] for g in series})), fontsize="small")
    if drawn:
        ax.legend(fontsize="xx-small", loc="best")
    else:
        ax.text(0.5, 0.5, "no sensory results", ha="center", transform=ax.transAxes)
        ax.set_yticks([])


def _calendar(ax: Any, st: dict[str, Any]) -> None:
    """Weeks down, weekdays across; each cell the minutes done that day."""
    import datetime as dt

    weeks = st["adherence"]["per_week"]
    missed = set(st["adherence"]["missed_weeks"])
    minutes: dict[tuple[str, int], float] = {}
    by_number = {s["session"]: s for s in st["sessions"]}
    for w in weeks:
        for n in w["session_numbers"]:
            s = by_number[n]
            day = dt.date.fromisoformat(s["at"][:10]).weekday()
            minutes[(w["week"], day)] = minutes.get((w["week"], day), 0.0) + s["minutes"]
    grid = [[minutes.get((w["week"], d), 0.0) for d in range(7)] for w in weeks]
    if grid:
        ax.imshow(grid, cmap="Greens", aspect="auto", vmin=0)
        for y in range(len(weeks)):
            for d in range(7):
                if grid[y][d]:
                    ax.text(
                        d,
                        y,
                        f"{grid[y][d]:.0f}",
                        ha="center",
                        va="center",
                        fontsize="x-small",
                        color="white",
                        fontweight="bold",
                    )
        ax.set_yticks(range(len(weeks)))
        ax.set_yticklabels(
            [w["week"] + (" MISSED" if w["week"] in missed else "") for w in weeks],
            fontsize="x-small",
        )
    ax.set_xticks(range(7))
    ax.set_xticklabels(WEEKDAYS, fontsize="x-small")
    ax.set_title("adherence: minutes per day", fontsize="small")


def draw(st: dict[str, Any]) -> Any:
    """The station's page as a matplotlib ``Figure``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    protocols: list[str | None] = sorted({g["protocol"] for g in st["sensory"]["series"]})
    protocols = protocols or [None]
    rows = 3 + len(protocols)
    # A4 portrait for up to two sensory panels; taller beyond, never squeezed.
    fig = Figure(figsize=(8.27, max(11.69, 2.2 * rows)), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, 1)
    _grip(axes[0], st)
    _pain(axes[1], st)
    for ax, proto in zip(axes[2:-1], protocols, strict=True):
        _sensory(ax, st, proto)
    for ax in axes[:-1]:
        _ticks(ax, st["sessions"])
        ax.set_xlabel("session in the station's order (r: date of receipt)", fontsize="x-small")
    _calendar(axes[-1], st)
    fig.suptitle(f"station {st['station_id']}", fontsize="medium")
    fig.tight_layout()
    return fig


def write_plots(report: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """One page per station, as ``<station>.png`` and ``<station>.pdf`` in ``out_dir``;
    returns the paths. Raises ``RuntimeError`` naming the ``clinic`` extra when matplotlib
    is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise RuntimeError("plots need matplotlib: pip install 'rehab-station[clinic]'") from exc
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for st in report["stations"]:
        fig = draw(st)
        for ext in ("png", "pdf"):
            path = out / page_name(st["station_id"], ext)
            fig.savefig(path, format=ext)
            written.append(path)
    return written


__all__ = ["draw", "page_name", "write_plots"]
