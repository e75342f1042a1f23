"""The pings kind's report sections: places and settlements, week-time rhythm, interests.

Registered for the ``pings`` kind when a report of it is built. Maps are plain plotly
scatter plots of longitude and latitude (no tiles, no base map: nothing is requested from
the network), and they show only coarse cells holding the homes of at least
``[mobility] min_cell_users`` users: no single person's home is drawn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from segwise._geo import unwrap_lon, wrap_lon
from segwise.features._rhythm import DAYS, heat_columns
from segwise.report import Chart, Figure, ReportContext, Section, Table, register_sections
from segwise.report import charts as ch

if TYPE_CHECKING:
    from segwise.features.pings import MobilityArtifacts, MobilitySettings

__all__: list[str] = []

_PARTS = ("Night", "Morning", "Afternoon", "Evening")


def _art(ctx: ReportContext) -> MobilityArtifacts:
    return ctx.result.cleaned.derived


def _settings(ctx: ReportContext) -> MobilitySettings:
    return ctx.result.config.section("mobility")


def _prepare(ctx: ReportContext) -> None:
    art, users = _art(ctx), ctx.frame
    audit = ctx.result.audit
    kept = int(audit.loc[audit["step"] == "kept", "rows"].sum())
    locations = art.locations
    ctx.figures[:0] = [
        Figure("users", "Users", len(users)),
        Figure("pings", "Pings kept", kept),
        Figure("stays", "Stays", int(users["stays"].sum())),
        Figure("locations", "Stable locations", int(locations.num_rows)),
        Figure("homes", "Homes found", float(users["home_found"].mean()), "pct"),
        Figure("work", "Work places found", float(users["work_found"].mean()), "pct"),
    ]
    ctx.overview_after += [
        ("Users without a stay", f"{art.users_without_stays:,}"),
        ("Median stays per user", f"{users['stays'].median():,.0f}"),
        ("Median radius of gyration (km)", f"{users['radius_km'].median():,.1f}"),
    ]
    ctx.subtitle = (f"{ctx.source} · {len(users):,} users · {kept:,} pings · coordinates "
                    f"shown as cells ({_settings(ctx).privacy})")


def _map(frame: pd.DataFrame, *, size_col: str, title: str, text: str, color: str) -> go.Figure:
    """Cells drawn at their centres, sized by a count, on a plain equirectangular frame."""
    size = frame[size_col].to_numpy(float)
    fig = go.Figure(go.Scatter(
        x=frame["lon"].round(4), y=frame["lat"].round(4), mode="markers",
        marker={"size": 6 + 30 * np.sqrt(size / max(size.max(initial=1), 1)), "color": color,
                "opacity": 0.6, "line": {"width": 0.5, "color": "white"}},
        text=frame[text], hovertemplate="%{text}<extra></extra>"))
    mid = float(frame["lat"].mean()) if len(frame) else 0.0
    fig.update_xaxes(title_text="Longitude (degrees)", showgrid=True, zeroline=False)
    fig.update_yaxes(title_text="Latitude (degrees)", zeroline=False, scaleanchor="x",
                     scaleratio=1 / max(np.cos(np.radians(mid)), 0.1))
    return ch.style(fig, title, height=520)


def _home_cells(homes: pd.DataFrame, s: MobilitySettings) -> tuple[pd.DataFrame, float]:
    """Count homes per cell on the finest grid that hides single homes.

    The grid is the privacy cell times a power of two, the first on which most homes share
    a cell with at least ``min_cell_users`` others.
    """
    from segwise.features._places import grid_cells

    cells, size = pd.DataFrame(columns=["cell", "users", "lat", "lon"]), s.cell_m
    for factor in (1, 2, 4, 8, 16, 32, 64):
        size = s.cell_m * factor
        ids, lat, lon = grid_cells(homes["cell_lat"].to_numpy(float),
                                   homes["cell_lon"].to_numpy(float), size)
        cells = pd.DataFrame({"cell": ids, "lat": lat, "lon": lon}).groupby("cell").agg(
            users=("lat", "size"), lat=("lat", "mean"), lon=("lon", "mean")).reset_index()
        if cells.loc[cells["users"] >= s.min_cell_users, "users"].sum() >= 0.8 * len(homes):
            break
    return cells, size


def _places(ctx: ReportContext) -> Section:
    art, users, s = _art(ctx), ctx.frame, _settings(ctx)
    loc = art.locations.to_pandas()
    homes = loc[loc["label"].isin(["home", "home+work"])]
    cells, size = _home_cells(homes, s)
    shown = cells[cells["users"] >= s.min_cell_users].copy()
    hidden = int(cells.loc[cells["users"] < s.min_cell_users, "users"].sum())
    shown["label"] = [f"{n:,} homes in this cell" for n in shown["users"]]
    blocks: list[Chart | Table] = []
    reading = (f"{len(shown):,} cells of {size:,.0f} m hold {int(shown['users'].sum()):,} "
               f"homes; {hidden:,} homes in cells with fewer than {s.min_cell_users} are not "
               "drawn, so that no single home can be seen.")
    blocks.append(Chart("home_cells", "Where users live (cells with enough homes)", reading,
                        _map(shown, size_col="users", text="label", color=ch.PALETTE[0],
                             title="Homes per cell (no base map; cells below the minimum "
                                   "hidden)"), wide=True))
    areas = pd.DataFrame({k: art.areas[k] for k in ("area", "users", "lat", "lon")})
    # An area across the antimeridian is drawn at its centre, not on the far side.
    group = art.areas["area"] + 1  # cells in no area (-1) apart, as group 0
    areas["lon"] = unwrap_lon(art.areas["lon"], group, int(group.max(initial=0)) + 1)
    dense = areas[areas["area"] >= 0].groupby("area").agg(
        cells=("users", "size"), lat=("lat", "mean"), lon=("lon", "mean")).reset_index()
    dense["lon"] = wrap_lon(dense["lon"].to_numpy(float))
    dense["users"] = [int(art.areas["area_users"][art.areas["area"] == a][0])
                      for a in dense["area"]]
    dense["label"] = [f"dense area {a}: {c:,} cells, {u:,} users"
                      for a, c, u in zip(dense["area"], dense["cells"], dense["users"],
                                         strict=True)]
    if len(dense):
        big = dense.sort_values("users", ascending=False).iloc[0]
        reading = (f"DBSCAN over everyone's stays ({s.settlement_cell_m:g} m cells, at least "
                   f"{s.settlement_min_users} users around a core cell) finds {len(dense):,} "
                   f"dense areas; the largest spans {int(big['cells']):,} cells with "
                   f"{int(big['users']):,} users.")
        blocks.append(Chart("dense_areas", "Dense areas found from the stays", reading,
                            _map(dense, size_col="users", text="label", color=ch.PALETTE[3],
                                 title="Dense areas (DBSCAN over all users' stays)"),
                            wide=True))
    levels = ["city", "town", "village", "outside"]
    cross = pd.crosstab(users["home_settlement"].fillna("no home"),
                        users["work_settlement"].fillna("no work"))
    cross = cross.reindex(index=[x for x in [*levels, "no home"] if x in cross.index],
                          columns=[x for x in [*levels, "no work"] if x in cross.columns])
    table = Table("settlements", "Settlement level of home (rows) and work (columns)",
                  cross.rename_axis("home").reset_index(),
                  formats=dict.fromkeys(map(str, cross.columns), "int"),
                  reading=f"Levels from GeoNames places of {s.gazetteer_min_population:,}+ "
                          f"people (city from {s.city_population:,}, town from "
                          f"{s.town_population:,}); a place covers "
                          f"{s.place_radius_km:g} km x population^(1/3).", wide=False)
    blocks.append(table)
    both = users[users["home_found"] & users["work_found"]]
    if len(both):
        fig = ch.histogram_log(both["commute_km"].clip(lower=0.05).to_numpy(),
                               title="Distance from home to work", x_title="Distance (km, log "
                               "scale)", log=True, entities="users")
        blocks.append(Chart("commute", "Distance from home to work",
                            f"Half of the {len(both):,} users with both a home and a work "
                            f"place live within {both['commute_km'].median():.1f} km of work.",
                            fig))
    parts = pd.DataFrame({p.capitalize(): users[f"{p}_place"].value_counts(normalize=True)
                          for p in ("night", "morning", "afternoon", "evening")}).fillna(0)
    parts = parts.reindex([x for x in ("home", "home+work", "work", "other", "none")
                           if x in parts.index])
    blocks.append(Chart("part_places", "Where users are in each part of the day",
                        "Share of users whose most-visited stable location in each part of "
                        "the day is home, work, another place, or none.",
                        ch.heatmap(parts * 100, title="Where users are, by part of the day "
                                   "(% of users)", x_title="Part of the day",
                                   y_title="Place", z_title="% of users",
                                   hover="%{y} in the %{x}: %{z:.0f}%", colorscale="Blues",
                                   zmid=None, text=np.vectorize(lambda v: f"{v:.0f}%")(
                                       parts.to_numpy() * 100))))
    return Section("places", "Stable locations and settlements",
                   "Where users reliably are (home, work, other places), in what kind of "
                   "settlement, and how far apart.", blocks)


def _heat_figure(grid: np.ndarray, title: str) -> go.Figure:
    frame = pd.DataFrame(np.asarray(grid).reshape(7, 4) * 100, index=list(DAYS),
                         columns=list(_PARTS))
    return ch.heatmap(frame, title=title, x_title="Part of the day", y_title="Day",
                      z_title="% of pings", hover="%{y} %{x}: %{z:.1f}%", colorscale="Blues",
                      zmid=None, height=360,
                      text=np.vectorize(lambda v: f"{v:.1f}")(frame.to_numpy()))


def _rhythm(ctx: ReportContext) -> Section:
    art, users = _art(ctx), ctx.frame
    r = art.rhythm
    heat = users[heat_columns()].to_numpy(float)
    blocks: list[Chart | Table] = []
    overall = heat.mean(axis=0)
    top = int(np.argmax(overall))
    blocks.append(Chart("week_heat", "Activity over the week, all users",
                        f"The busiest cell is {DAYS[top // 4]} {_PARTS[top % 4].lower()} with "
                        f"{overall[top]:.1%} of an average user's pings.",
                        _heat_figure(overall, "Share of pings by day and part of the day")))
    rows, cols = r["shape"]
    um = np.asarray(r["u_matrix"])
    groups = np.asarray(r["node_group"]).reshape(rows, cols) if um.size > 1 else None
    if groups is not None:
        names = r["names"]
        text = np.array([[f"{names[g]}<br>{h:,} users" for g, h in zip(grow, hrow,
                                                                      strict=True)]
                         for grow, hrow in zip(groups, np.asarray(r["hits"]).reshape(rows, cols),
                                               strict=True)])
        fig = go.Figure(go.Heatmap(z=um, colorscale="Greys", text=text,
                                   hovertemplate="%{text}<br>distance %{z:.2f}<extra></extra>",
                                   colorbar={"title": {"text": "Mean distance"}}))
        for g, name in enumerate(names):
            ys, xs = np.nonzero(groups == g)
            fig.add_scatter(x=xs, y=ys, mode="markers", name=str(name),
                            marker={"size": 14, "symbol": "square-open", "line": {"width": 3},
                                    "color": ch.SEGMENT_PALETTE[g % len(ch.SEGMENT_PALETTE)]},
                            hoverinfo="skip")
        fig.update_xaxes(title_text="SOM column", dtick=1)
        fig.update_yaxes(title_text="SOM row", dtick=1, autorange="reversed")
        blocks.append(Chart("som_umatrix", "Self-organising map of week-time heatmaps",
                            "Grey: the U-matrix (mean distance of a node to its neighbours; "
                            "dark ridges separate groups); outlines: the named node groups.",
                            ch.style(fig, "SOM U-matrix and node groups", height=480,
                                     legend=True), wide=True))
        weights = np.asarray(r["weights"])
        sub = make_subplots(rows=rows, cols=cols, horizontal_spacing=0.01,
                            vertical_spacing=0.02)
        zmax = float(weights.max())
        for i in range(rows * cols):
            rr, cc = divmod(i, cols)
            sub.add_trace(go.Heatmap(z=weights[i].reshape(7, 4), zmin=0, zmax=zmax,
                                     colorscale="Blues", showscale=i == 0,
                                     hovertemplate=f"node {rr},{cc}: "
                                                   f"{names[int(groups[rr, cc])]}<br>"
                                                   "day %{y}, part %{x}: %{z:.1%}"
                                                   "<extra></extra>"),
                          row=rr + 1, col=cc + 1)
        sub.update_xaxes(showticklabels=False)
        sub.update_yaxes(showticklabels=False, autorange="reversed")
        blocks.append(Chart("som_nodes", "Mean heatmap of each SOM node",
                            "Each small map is one node's heatmap (rows Monday to Sunday, "
                            "columns night, morning, afternoon, evening); neighbouring nodes "
                            "have similar weeks.",
                            ch.style(sub, "Node heatmaps (7 days x 4 parts of the day)",
                                     height=110 * rows + 80), wide=True))
    sizes = users["rhythm"].value_counts()
    means = users.groupby("rhythm")[["night_share", "weekend_share", "office_share"]].mean()
    table = Table("rhythm_groups", "Named rhythm groups",
                  pd.DataFrame({"group": sizes.index, "users": sizes.to_numpy(),
                                "share": sizes.to_numpy() / max(len(users), 1),
                                **{c: means.loc[sizes.index, c].to_numpy()
                                   for c in means.columns}}),
                  formats={"users": "int", "share": "pct", "night_share": "pct",
                           "weekend_share": "pct", "office_share": "pct"},
                  headers={"night_share": "Pings at night", "weekend_share": "At weekends",
                           "office_share": "Weekday office hours"},
                  reading="Groups of SOM nodes (Ward on the node weights), named after the "
                          "part of the week they are most over-represented in.")
    blocks.append(table)
    return Section("rhythm", "Week-time rhythm",
                   "Each user's share of pings over 7 days x 4 parts of the day, mapped on a "
                   "self-organising map and grouped.", blocks)


def _interests(ctx: ReportContext) -> Section | None:
    art = _art(ctx)
    model = art.interests
    if model is None:
        return None
    users = ctx.frame
    blocks: list[Chart | Table] = []
    share = pd.Series(model.counts.sum(axis=0) / max(model.counts.sum(), 1),
                      index=model.categories).sort_values(ascending=False)
    blocks.append(Chart("interest_mix", "Visits by category",
                        f"'{share.index[0]}' takes {share.iloc[0]:.0%} of the visits matched "
                        "to a category.",
                        ch.bar_h(list(share.index), share.to_numpy() * 100,
                                 title="Share of visits by category", x_title="Visits (%)",
                                 y_title="Category", hover="%{x:.1f}%")))
    k = int(np.count_nonzero(model.explained))
    if k:
        load = pd.DataFrame(model.loadings[:k].T, index=model.categories,
                            columns=[f"Component {i + 1} ({e:.0%})"
                                     for i, e in enumerate(model.explained[:k])])
        blocks.append(Chart("interest_components", "Interest components (PCA of TF-IDF)",
                            " ".join(model.reading()[:2]),
                            ch.heatmap(load.round(2), title="Loadings of the interest "
                                       "components", x_title="Component (variance explained)",
                                       y_title="Category", z_title="Loading",
                                       hover="%{y}, %{x}: %{z:.2f}")))
        blocks.append(Table("interest_reading", "Reading the components",
                            pd.DataFrame({"component": model.reading()}),
                            headers={"component": ""}, wide=False))
    sizes = users["interests"].value_counts()
    cats = [c for c in users.columns if c.startswith("interest_") and not
            c.startswith("interest_pc")]
    means = users.groupby("interests")[cats].mean().reindex(sizes.index) if cats else None
    frame = pd.DataFrame({"group": sizes.index, "users": sizes.to_numpy()})
    if means is not None:
        top = means.apply(lambda row: ", ".join(
            f"{c.removeprefix('interest_').replace('_', ' ')} {row[c]:.0%}"
            for c in row.sort_values(ascending=False).index[:3]), axis=1)
        frame["top_categories"] = top.to_numpy()
    blocks.append(Table("interest_groups", "Interest clusters", frame,
                        formats={"users": "int"},
                        headers={"top_categories": "Mean shares of the top categories"},
                        reading="Users clustered on their TF-IDF interest vectors (KMeans, k "
                                "by silhouette) and named by the categories whose share is "
                                "highest against everyone's."))
    return Section("interests", "Interests from places",
                   "What users visit, weighted so that places everybody goes to count less.",
                   blocks)


def _wide(build: Any) -> Any:
    def wrapped(ctx: ReportContext) -> Section | None:
        section = build(ctx)
        for chart in section.charts if section is not None else []:
            chart.wide = True
        return section

    return wrapped


register_sections("pings", [
    (30, "places", _wide(_places)),
    (40, "rhythm", _rhythm),
    (45, "interests", _wide(_interests)),
], prepare=_prepare)
