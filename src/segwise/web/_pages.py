"""What each dashboard page shows, as plain data: the page and its JSON twin are the same dict.

Every function takes the store and the page's parameters and returns a JSON-ready dict;
the web handlers only call these and render the result (HTML) or return it (JSON).
"""

from __future__ import annotations

import math
from typing import Any

from segwise.exceptions import ConfigError, NotFoundError
from segwise.store import Store
from segwise.store._db import comparable, held
from segwise.web._charts import bar_chart, grouped_bars, heatmap, sankey

__all__ = [
    "customer_page",
    "models_page",
    "overview_page",
    "quality_page",
    "runs_page",
    "segment_page",
]

#: Rows of the members table per page unless asked otherwise.
PAGE_SIZE = 25


def _run(store: Store, run_id: str | None) -> dict[str, Any]:
    """Return the run's record (the newest with entities by default), config left out."""
    run = store.run(run_id or store.latest_run_id())
    run.pop("config")
    return run


def _segmentation(store: Store, run_id: str,
                  segmentation: str | None) -> tuple[list[str], str | None]:
    """Return the run's segmentations and the one asked for (the first if none is; or None)."""
    names = store.segmentations(run_id)
    if segmentation is None:
        return names, names[0] if names else None
    if segmentation not in names:
        raise store.no_segmentation(run_id, segmentation)
    return names, segmentation


def _values_by_segment(store: Store, run_id: str, segmentation: str) -> dict[str, dict[str, Any]]:
    """Return segment -> measure -> {mean, total} of the per-entity measures."""
    out: dict[str, dict[str, Any]] = {}
    for row in store.segment_values(run_id, segmentation):
        out.setdefault(row["segment"], {})[row["measure"]] = {"mean": row["mean"],
                                                              "total": row["total"]}
    return out


def overview_page(store: Store, run_id: str | None = None,
                  segmentation: str | None = None) -> dict[str, Any]:
    """Show the segments of a run: sizes, value shares, actions, per-entity measures.

    The run is the newest with entities by default, else the newest: a store holding only
    a model's training run (``segwise assigner train --store``, for ``POST /score``) opened
    on an error page.
    """
    if run_id is None:
        try:
            run_id = store.latest_run_id()
        except NotFoundError:
            newest = store.runs(limit=1)
            if not newest:
                raise
            run_id = newest[0]["run_id"]
    run = _run(store, run_id)
    names, segmentation = _segmentation(store, run["run_id"], segmentation)
    if segmentation is None:  # a model's training run, or a job that kept no segments
        return {"page": "overview", "title": f"Run {run['run_id']}", "run": run,
                "segmentations": names, "segmentation": None, "segments": [],
                "measures": [], "values": {}, "charts": [], "valued": False}
    segments = store.segments(run["run_id"], segmentation)
    values = _values_by_segment(store, run["run_id"], segmentation)
    measures = sorted({m for v in values.values() for m in v})
    labels = [s["segment"] for s in segments]
    shares = {"share of " + (run["entities"] or "entities"): [s["share"] for s in segments]}
    valued = any(s["value_share"] is not None for s in segments)
    if valued:
        shares["share of value"] = [s["value_share"] or 0.0 for s in segments]
    charts = [grouped_bars(
        "shares", f"Segments of {run['entities']}: size" + (" and value" if valued else ""),
        labels, shares, value_title="share", percent=True,
        summary=f"{len(segments)} {segmentation} segments; " + (
            "bars compare each segment's share of the entities with its share of value."
            if valued else "each bar is a segment's share of the entities."))]
    if "clv" in measures:
        clv = [values.get(s, {}).get("clv", {}).get("total") or 0.0 for s in labels]
        charts.append(bar_chart(
            "clv", "Expected lifetime value by segment", labels, clv, value_title="total CLV",
            summary="Total discounted lifetime value of each segment's members over the "
                    "forecast horizon."))
    return {"page": "overview", "title": f"Segments · run {run['run_id']}", "run": run,
            "segmentations": names, "segmentation": segmentation, "segments": segments,
            "measures": measures, "values": values, "charts": charts, "valued": valued}


def _first_page(page: int) -> None:
    if page < 1:
        raise ConfigError(f"page {page}: page numbers start at 1")


def _paging(page: int, size: int, total: int, rows: str) -> dict[str, int]:
    """Return the page, its size and the number of pages; a page past the last is refused."""
    pages = max(1, math.ceil(total / size))
    if page > pages:
        raise ConfigError(f"page {page} is past the last page of {rows} ({total:,} at {size:,} "
                          f"a page: {pages:,}). Fix: ask for a page from 1 to {pages:,}")
    return {"page": page, "size": size, "pages": pages}


def segment_page(store: Store, segmentation: str, segment: str, *, run_id: str | None = None,
                 page: int = 1, size: int = PAGE_SIZE, sort: str | None = None,
                 descending: bool = False, search: str | None = None) -> dict[str, Any]:
    """Show one segment: summary, profile, what sets it apart, measures, its members."""
    run = _run(store, run_id)
    _segmentation(store, run["run_id"], segmentation)  # 404 for one the run lacks
    summary = store.segment(run["run_id"], segmentation, segment)
    profile = store.profile(run["run_id"], segmentation, segment)
    _first_page(page)
    members = store.members(run["run_id"], segmentation, segment, search=search or None,
                            sort=sort, descending=descending, offset=(page - 1) * size,
                            limit=size)
    top = profile[:8]
    charts = [bar_chart(
        "profile", "What sets it apart (standardised difference)",
        [p["feature"] for p in top], [p["z"] for p in top],
        value_title="standard deviations from all entities",
        summary="Features ordered by how far the segment's mean lies from everyone's, "
                "in standard deviations across all entities.")] if top else []
    return {
        "page": "segment", "title": f"{segment} · {segmentation} segment", "run": run,
        "segmentation": segmentation, "segment": summary, "profile": profile,
        "values": _values_by_segment(store, run["run_id"], segmentation).get(segment, {}),
        "members": {**members, **_paging(page, size, members["total"], "members"),
                    "sort": sort, "descending": descending, "search": search or ""},
        "charts": charts,
    }


def customer_page(store: Store, entity_id: str, *, run_id: str | None = None) -> dict[str, Any]:
    """Show one entity: features, segments, measures (CLV, P(alive)), history."""
    run = _run(store, run_id)
    entity = store.entity(run["run_id"], entity_id)
    columns = {c["name"]: c for c in store.columns(run["run_id"])}
    history = store.entity_history(entity_id, like=run["run_id"])
    charts = []
    # A model's probabilities are stored as p_<segment>; other measures (p_alive) are not.
    names = {f"p_{s['segment']}" for name in store.segmentations(run["run_id"])
             for s in store.segments(run["run_id"], name)}
    probabilities = {k.removeprefix("p_"): v for k, v in entity["measures"].items()
                     if k in names and v is not None}
    measures = {k: v for k, v in entity["measures"].items() if k not in names}
    if probabilities:
        charts.append(bar_chart(
            "probabilities", "Segment probabilities", list(probabilities),
            list(probabilities.values()), value_title="probability",
            percent=True,
            summary="How likely the model finds each segment for this entity."))
    return {"page": "customer", "title": f"{run['entity'] or 'entity'} {entity_id}",
            "run": run, "entity": entity, "columns": columns, "history": history,
            "measures": measures, "probabilities": probabilities, "charts": charts}


def quality_page(store: Store, *, run_id: str | None = None, page: int = 1,
                 size: int = PAGE_SIZE) -> dict[str, Any]:
    """Show the cleaning audit (rows per step, summing to the input) and the quarantine."""
    run = _run(store, run_id)
    audit = store.audit(run["run_id"])
    _first_page(page)
    quarantine = store.quarantine(run["run_id"], offset=(page - 1) * size, limit=size)
    total = sum(s["rows"] for s in audit)
    charts = [bar_chart(
        "audit", "Rows per cleaning step", [s["step"] for s in audit],
        [s["rows"] for s in audit], value_title="rows",
        summary=f"Every one of the {total:,} input rows ends in exactly one step.",
    )] if audit else []
    return {"page": "quality", "title": "Data quality", "run": run, "audit": audit,
            "input_rows": total,
            "quarantine": {**quarantine,
                           **_paging(page, size, quarantine["total"], "quarantined rows")},
            "charts": charts}


def models_page(store: Store, *, run_id: str | None = None) -> dict[str, Any]:
    """Show the model cards, newest first, with their evaluation."""
    models = store.models(run_id)
    charts = []
    for model in models:
        evaluation = model["card"].get("evaluation")
        table = evaluation.get("table") if isinstance(evaluation, dict) else None
        if isinstance(table, list) and table and "macro_f1" in table[0]:
            names = [str(r.get("model") or r.get("index") or i) for i, r in enumerate(table)]
            charts.append(bar_chart(
                f"eval-{model['run_id']}-{model['name']}",
                f"{model['name']}: macro-F1 on held-out new customers", names,
                [r["macro_f1"] for r in table], value_title="macro-F1",
                summary="The chosen model against the baselines on customers acquired after "
                        "the cut-off."))
    return {"page": "models", "title": "Models", "models": models, "charts": charts}


def runs_page(store: Store, *, run_a: str | None = None, run_b: str | None = None,
              segmentation: str | None = None) -> dict[str, Any]:
    """Show every run, and how entities moved between the segments of two of them.

    The runs are by default the newest and the newest before it that holds the same kind
    of entity (customers of order lines, users of events: a store may hold both). The
    migration is of ``segmentation``, by default the first one both runs have (``rule``
    first); none is shown when they share none. The runs to compare with ``run_b``
    (``choices_before``) are the other runs of its kind; ``default_a`` is the newest
    before it (None when there is none).
    """
    # A form's empty choice is the default.
    run_a, run_b, segmentation = run_a or None, run_b or None, segmentation or None
    runs = store.runs()
    known = {r["run_id"] for r in runs}
    for run_id in (run_a, run_b):
        if run_id is not None and run_id not in known:
            store.run(run_id)  # NotFoundError naming it
    with_entities = [r for r in runs if r["feature_set"]]
    if run_b is None and with_entities:
        run_b = with_entities[0]["run_id"]
    if run_a is not None and run_a == run_b:
        raise ConfigError(f"runs a and b are both {run_a}: a migration compares two runs. "
                          "Fix: choose another run of its kind as a (or leave a out)")
    note = ""
    ids = [r["run_id"] for r in with_entities]
    after = with_entities[ids.index(run_b)] if run_b in ids else None
    before = [r["run_id"] for r in with_entities
              if after is not None and r["run_id"] != run_b and comparable(r, after)]
    if after is not None and not before:
        note = (f"No other run holds the {held(after)} that run {run_b} holds: a migration "
                "compares two such runs.")
    if run_a is not None and run_b is not None:
        store.check_comparable(run_a, run_b)   # before any word on their segmentations
    if segmentation is not None and run_b is not None and (
            segmentation not in store.segmentations(run_b)):
        raise store.no_segmentation(run_b, segmentation)
    # The newest earlier run of the kind, with the segmentation asked for when one is.
    default_a = next((i for i in ids[ids.index(run_b) + 1:] if i in before and (
        segmentation is None or segmentation in store.segmentations(i))), None
                     ) if after is not None else None
    if run_a is None and before and after is not None:
        run_a = default_a
        if run_a is None:
            note = (f"No run before {run_b} holds its {held(after)}"
                    + (f" with {segmentation} segments" if segmentation else "")
                    + ": choose a later one as Before to compare.")
    flows: list[dict[str, Any]] = []
    charts = []
    matrix: dict[str, Any] = {"rows": [], "cols": [], "values": []}
    if run_a and run_b and segmentation is None:
        shared = set(store.segmentations(run_a))
        segmentation = next((n for n in store.segmentations(run_b) if n in shared), None)
        if segmentation is None:
            note = f"Runs {run_a} and {run_b} share no segmentation to compare."
    if run_a and run_b and segmentation is not None:
        flows = store.migration(run_a, run_b, segmentation)
        rows = list(dict.fromkeys(f["from"] for f in flows))
        cols = list(dict.fromkeys(f["to"] for f in flows))
        counts = {(f["from"], f["to"]): f["n"] for f in flows}
        values = [[counts.get((r, c), 0) for c in cols] for r in rows]
        matrix = {"rows": rows, "cols": cols, "values": values}
        moved = sum(f["n"] for f in flows if f["from"] != f["to"])
        noun = (after["entities"] if after is not None else None) or "entities"
        summary = (f"{moved:,} of {sum(f['n'] for f in flows):,} {noun} changed "
                   f"{segmentation} segment between run {run_a} and run {run_b}.")
        charts = [
            heatmap("migration", "Segment migration (rows: before, columns: after)", rows, cols,
                    values, x_title=f"run {run_b}", y_title=f"run {run_a}", summary=summary),
            sankey("sankey", "Where each segment's members went", flows, summary=summary),
        ]
    return {"page": "runs", "title": "Runs", "runs": runs, "run_a": run_a, "run_b": run_b,
            "segmentation": segmentation or "", "note": note,
            "choices": ids, "choices_before": before, "default_a": default_a,
            "migration": matrix,
            "flows": flows, "charts": charts}
