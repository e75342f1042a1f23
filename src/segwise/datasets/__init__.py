"""Datasets bundled with segwise, so that the main job runs with no other input.

``online_retail.parquet``: UCI Online Retail (Chen, Sain & Guo 2012; donor Dr Daqing Chen,
London South Bank University), CC BY 4.0. See ``datasets/data/ATTRIBUTION.md``.

Readers of public datasets that are not bundled (their licences allow research use only):
GeoLife GPS trajectories (:func:`geolife_pings`) and Foursquare NYC check-ins
(:func:`foursquare_checkins`), both as pings.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

__all__ = ["foursquare_checkins", "geolife_pings", "load_online_retail", "online_retail_path"]


def online_retail_path() -> Path:
    """Path of the bundled UCI Online Retail log (541,909 order lines, Parquet).

    Returns
    -------
    pathlib.Path
        A file inside the installed package.
    """
    return Path(str(files("segwise.datasets").joinpath("data/online_retail.parquet")))


def load_online_retail() -> pd.DataFrame:
    """Load the bundled UCI Online Retail log as it is, uncleaned.

    Returns
    -------
    pandas.DataFrame
        541,909 rows with the UCI columns InvoiceNo, StockCode, Description, Quantity,
        InvoiceDate, UnitPrice, CustomerID, Country.
    """
    return pd.read_parquet(online_retail_path())


#: Days between 1899-12-30 (the GeoLife day count's origin) and 1970-01-01.
_GEOLIFE_EPOCH_DAYS = 25_569


def geolife_pings(source: str | Path, out: str | Path | None = None, *,
                  users: list[str] | None = None, utc_offset_hours: float = 8.0) -> pa.Table:
    """Read GeoLife trajectories (``.plt`` files) as pings: one row per GPS fix.

    GeoLife 1.3 (Microsoft Research Asia; research use) holds ``Data/<user>/Trajectory/
    <yyyymmddhhmmss>.plt`` files: six header lines, then latitude, longitude, 0, altitude
    (feet), days since 1899-12-30, date and time (GMT).

    Parameters
    ----------
    source : str or Path
        The archive (``.tar.gz`` / ``.tgz`` / ``.tar``) or an unpacked folder above
        ``Data``.
    out : str or Path, optional
        Also write the pings there (Parquet or CSV).
    users : list of str, optional
        Only these users (``["000", "003"]``); all when omitted.
    utc_offset_hours : float, default=8.0
        Shift of the local clock from GMT (Beijing: +8), so that nights and working hours
        are local; 0 keeps GMT (then set ``[mobility] timezone``).

    Returns
    -------
    pyarrow.Table
        ``user_id``, ``timestamp`` (seconds), ``lat``, ``lon``, ``altitude_ft`` (null
        where -777, GeoLife's "invalid"), in file order.
    """
    import io
    import re
    import tarfile

    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    names = ["lat", "lon", "zero", "altitude_ft", "days", "date", "time"]
    opts = pcsv.ReadOptions(skip_rows=6, column_names=names)
    convert = pcsv.ConvertOptions(include_columns=["lat", "lon", "altitude_ft", "days"],
                                  column_types={"lat": pa.float64(), "lon": pa.float64(),
                                                "altitude_ft": pa.float64(),
                                                "days": pa.float64()})
    pattern = re.compile(r"Data/(\d+)/Trajectory/[^/]+\.plt$")
    parts = []

    def add(user: str, data: bytes) -> None:
        t = pcsv.read_csv(io.BytesIO(data), read_options=opts, convert_options=convert)
        parts.append(t.append_column("user_id", pa.array([user] * t.num_rows, pa.string())))

    path = Path(source)
    if path.is_dir():
        for f in sorted(path.rglob("*.plt")):
            m = pattern.search(f.as_posix())
            if m and (users is None or m.group(1) in users):
                add(m.group(1), f.read_bytes())
    else:
        with tarfile.open(path) as tar:
            for member in sorted(tar.getmembers(), key=lambda x: x.name):
                m = pattern.search(member.name)
                if member.isfile() and m and (users is None or m.group(1) in users):
                    fh = tar.extractfile(member)
                    if fh is not None:
                        add(m.group(1), fh.read())
    if not parts:
        raise FileNotFoundError(f"{source}: no GeoLife .plt files found")
    t = pa.concat_tables(parts)
    days = t.column("days").to_numpy()
    seconds = np.round((days - _GEOLIFE_EPOCH_DAYS) * 86_400 + utc_offset_hours * 3600)
    alt = t.column("altitude_ft")
    table = pa.table({
        "user_id": t.column("user_id"),
        "timestamp": pa.array(seconds.astype("int64"), pa.int64()).cast(pa.timestamp("s")),
        "lat": t.column("lat"),
        "lon": t.column("lon"),
        "altitude_ft": pc.if_else(pc.equal(alt, -777.0), pa.scalar(None, pa.float64()), alt),
    })
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix.lower() == ".csv":
            pcsv.write_csv(table, out)
        else:
            import pyarrow.parquet as pq

            pq.write_table(table, out)
    return table


def foursquare_checkins(source: str | Path, out: str | Path | None = None) -> pa.Table:
    """Read the Foursquare NYC check-ins (MASTER enriched subset) as pings with categories.

    The file has user (``label``), weekly trajectory (``tid``), venue position, day of the
    week, hour and the venue's root category, but no dates. Each check-in is given a
    timestamp in a made-up calendar that keeps what the file says: week ``w`` of a user
    (their ``tid`` values in order) starts on Monday 2012-04-16 plus ``w`` weeks, the day
    and hour are the file's, and the venues of the same hour are a minute apart in file
    order (repeated rows stay exact copies). Dates are therefore not real; weekdays and hours are.

    Parameters
    ----------
    source : str or Path
        ``foursquare_nyc.csv.gz``.
    out : str or Path, optional
        Also write the pings there (Parquet or CSV).

    Returns
    -------
    pyarrow.Table
        ``user_id``, ``timestamp``, ``lat``, ``lon``, ``category``, ``venue``.
    """
    frame = pd.read_csv(source)
    days = {d: i for i, d in enumerate(("Monday", "Tuesday", "Wednesday", "Thursday",
                                         "Friday", "Saturday", "Sunday"))}
    week = frame.groupby("label")["tid"].rank(method="dense").astype("int64") - 1
    # Distinct check-ins of the same hour a minute apart; exact copies stay copies.
    minute = frame.groupby(["tid", "day", "hour"])["poi"].transform(
        lambda v: pd.factorize(v)[0]).clip(upper=59)
    start = pd.Timestamp("2012-04-16")
    ts = (start + pd.to_timedelta(week * 7 + frame["day"].map(days), unit="D")
          + pd.to_timedelta(frame["hour"], unit="h") + pd.to_timedelta(minute, unit="m"))
    table = pa.table({
        "user_id": frame["label"].astype(str).to_numpy(),
        "timestamp": pa.array(ts.to_numpy().astype("datetime64[s]")),
        "lat": frame["lat"].to_numpy(float),
        "lon": frame["lon"].to_numpy(float),
        "category": frame["category"].astype(str).to_numpy(),
        "venue": frame["poi"].astype(str).to_numpy(),
    })
    if out is not None:
        import pyarrow.parquet as pq

        Path(out).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, out)
    return table
