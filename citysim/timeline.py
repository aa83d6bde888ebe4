"""Time in the simulated city: days, daily rhythms, and events that cluster in time and place."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from citysim.geo import Geo

SHANGHAI = ZoneInfo("Asia/Shanghai")

# Share of a day's events in each hour (local time): quiet nights, morning and evening peaks.
DAY_PROFILE = np.array(
    [
        1,
        0.7,
        0.5,
        0.4,
        0.4,
        0.6,
        1.2,
        2.5,
        4,
        5,
        5.2,
        5,
        4.6,
        4.4,
        4.8,
        5,
        5,
        5.2,
        5.4,
        5.2,
        4.6,
        3.6,
        2.6,
        1.6,
    ]
)
DAY_PROFILE = DAY_PROFILE / DAY_PROFILE.sum()
NIGHT_PROFILE = np.roll(DAY_PROFILE, 12)  # night-heavy, e.g. noise and nightlife


def day_start(day: date) -> pd.Timestamp:
    """Local midnight of a day."""
    return pd.Timestamp(datetime.combine(day, time(0), tzinfo=SHANGHAI))


def times_in_day(
    rng: np.random.Generator, day: date, n: int, profile: np.ndarray = DAY_PROFILE
) -> pd.DatetimeIndex:
    """n local timestamps within the day following an hourly profile, to the second."""
    hours = rng.choice(24, n, p=profile)
    seconds = hours * 3600 + rng.integers(0, 3600, n)
    return day_start(day) + pd.to_timedelta(np.sort(seconds), unit="s")


def clustered_events(
    rng: np.random.Generator, geo: Geo, day: date, mean: float, profile: np.ndarray = DAY_PROFILE
) -> pd.DataFrame:
    """A day's events: most spread by population and hour, a share in bursts at hotspots.

    Real incidents cluster: a few cells each day see several events within an hour or two.
    """
    n = int(rng.poisson(mean))
    n_burst = int(n * 0.25)
    n_spread = n - n_burst
    cells = geo.sample_cells(rng, n_spread)
    when = times_in_day(rng, day, n_spread, profile)
    if n_burst:
        hotspots = geo.sample_cells(rng, max(1, n_burst // 6))
        centre = times_in_day(rng, day, len(hotspots), profile)
        pick = rng.integers(0, len(hotspots), n_burst)
        jitter = pd.to_timedelta(np.abs(rng.normal(0, 2400, n_burst)).astype(int), unit="s")
        last_second = day_start(day) + pd.Timedelta("23:59:59")
        burst_when = pd.Series(centre[pick] + jitter).clip(upper=last_second)
        cells = np.concatenate([cells, hotspots[pick]])
        when = when.append(pd.DatetimeIndex(burst_when))
    lon, lat = geo.points_in(rng, cells)
    c = geo.cells.iloc[cells]
    frame = pd.DataFrame(
        {
            "at": when,
            "cell_idx": cells,
            "street_code": c["street_code"].to_numpy(),
            "committee_code": c["committee_code"].to_numpy(),
            "grid_cell": c["cell_code"].to_numpy(),
            "lon": lon,
            "lat": lat,
        }
    )
    return frame.sort_values("at", kind="stable").reset_index(drop=True)


def minutes(rng: np.random.Generator, mean: float, n: int) -> pd.TimedeltaIndex:
    """Delays with a long right tail (lognormal), mean about `mean` minutes."""
    m = rng.lognormal(np.log(max(mean, 0.1)) - 0.32, 0.8, n)
    return pd.to_timedelta((m * 60).astype(int), unit="s")
