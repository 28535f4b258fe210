"""Warnings about accounts and reps far from the rest of the plan, and about accounts not located."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.geodesy import geodesic_km
from optimizer.outliers import FAR_MIN_KM, isolated_account_warnings, location_warnings
from optimizer.pipeline import unlocated_warnings
from tests.plan_fixtures import HOME, point_at

REP_EAST = point_at(100.0, azimuth=90.0)


def warnings_for(accounts: list[tuple[float, float]], reps: list[tuple[float, float]]) -> list[str]:
    account_lat, account_lon = zip(*accounts, strict=True)
    rep_lat, rep_lon = zip(*reps, strict=True)
    return location_warnings([f"A{k + 1}" for k in range(len(accounts))], account_lat, account_lon,
                             [f"R{k + 1}" for k in range(len(reps))], rep_lat, rep_lon)


def test_nearby_points_give_no_warning():
    accounts = [point_at(km) for km in (10.0, 20.0, 30.0)]
    assert warnings_for(accounts, [HOME, REP_EAST]) == []


def test_flipped_longitude_named_with_fix():
    accounts = [point_at(10.0), point_at(20.0), point_at(30.0), (HOME[0], -HOME[1])]
    far_km = geodesic_km(HOME[0], -HOME[1], HOME[0], HOME[1])
    warnings = warnings_for(accounts, [HOME, REP_EAST])

    assert len(warnings) == 1
    assert warnings[0] == (f"account A4 at (40.0000, 100.0000) lies {far_km:,.0f} km from its nearest rep, R1, while "
                           "half of the accounts lie within 25 km of a rep; with longitude -100.0000 instead of "
                           "100.0000 it would lie 0 km from the nearest rep; check its coordinates if it does not belong "
                           "there")


def test_swapped_rep_coordinates_named_with_fix():
    """A swap keeps both numbers valid only where the longitude is within +-90, as in Europe."""
    berlin = (52.52, 13.405)
    accounts = [point_at(10.0, origin=berlin), point_at(20.0, origin=berlin)]
    warnings = warnings_for(accounts, [berlin, (berlin[1], berlin[0])])

    assert len(warnings) == 1
    assert warnings[0].startswith("rep R2 at (13.4050, 52.5200) lies ")
    assert warnings[0].endswith("; with latitude and longitude swapped it would lie 10 km from the nearest account; "
                                "check its coordinates if it does not belong there")


def test_rep_on_wrong_account_still_named():
    """A rep based on the wrong account lies next to it, so only the other accounts reveal both."""
    flipped = (HOME[0], -HOME[1])
    accounts = [point_at(10.0), point_at(20.0), point_at(30.0), flipped]
    far_km = geodesic_km(*flipped, *point_at(30.0))
    warnings = warnings_for(accounts, [HOME, flipped])

    assert warnings == [f"account A4 at (40.0000, 100.0000) lies {far_km:,.0f} km from its nearest other account, A3; "
                        "with longitude -100.0000 instead of 100.0000 it would lie 10 km from the nearest account; "
                        "rep R2, based 0 km from it, is as far from the other accounts; check its coordinates if it "
                        "does not belong there"]


def test_every_rep_flipped_names_reps():
    accounts = [point_at(10.0), point_at(20.0), point_at(30.0)]
    warnings = warnings_for(accounts, [(HOME[0], -HOME[1]), (REP_EAST[0], -REP_EAST[1])])

    assert len(warnings) == 3
    assert warnings[0].startswith("rep R2 at ")
    assert "with longitude -98.8290 instead of 98.8290 it would lie 110 km from the nearest account" in warnings[0]
    assert warnings[1].startswith("rep R1 at (40.0000, 100.0000) lies ")
    assert warnings[2] == ("every account lies more than 1,000 km from every rep; check the coordinates of the reps, "
                           "or of the accounts if they are the ones wrong")


def test_island_account_with_own_rep_not_warned():
    """An account in Honolulu served by a Honolulu rep is far from the other accounts but explained."""
    honolulu = (21.3069, -157.8583)
    accounts = [point_at(10.0), point_at(20.0), point_at(1.0, origin=honolulu)]
    assert warnings_for(accounts, [HOME, honolulu]) == []


def test_isolated_account_without_reps():
    flipped = (HOME[0], -HOME[1])
    warnings = isolated_account_warnings(["A1", "A2", "A3"], [HOME[0], point_at(10.0)[0], flipped[0]],
                                         [HOME[1], point_at(10.0)[1], flipped[1]])
    assert len(warnings) == 1
    assert warnings[0].startswith("account A3 at (40.0000, 100.0000) lies ")


def test_far_point_without_fix_still_named():
    honolulu = (21.3069, -157.8583)
    warnings = warnings_for([point_at(10.0), point_at(20.0), honolulu], [HOME])

    assert len(warnings) == 1
    assert warnings[0].startswith("account A3 at (21.3069, -157.8583) lies ")
    assert warnings[0].endswith("km from its nearest rep, R1, while half of the accounts lie within 20 km of a rep; "
                                "check its coordinates if it does not belong there")


@pytest.mark.parametrize(("km", "named"), [(FAR_MIN_KM - 5.0, False), (FAR_MIN_KM + 5.0, True)])
def test_short_distances_use_floor(km, named):
    """Half of the accounts lie within 10 km, so only the floor of 1,000 km decides."""
    accounts = [point_at(10.0), point_at(10.0), point_at(10.0), point_at(km)]
    assert bool(warnings_for(accounts, [HOME])) is named


def test_many_far_accounts_counted():
    accounts = [point_at(10.0)] * 8 + [point_at(3000.0 + 10.0 * k) for k in range(7)]
    warnings = warnings_for(accounts, [HOME])

    assert len(warnings) == 6
    assert warnings[0].startswith("account A15 at ")
    assert warnings[5] == "2 more accounts lie far from the nearest rep"


def test_unlocated_accounts_ignored():
    warnings = location_warnings(["A1", "A2"], [HOME[0], np.nan], [HOME[1], np.nan], ["R1"], [HOME[0]], [HOME[1]])
    assert warnings == []


def test_unlocated_accounts_named_then_counted():
    accounts = pd.DataFrame({"account_id": [f"A{k}" for k in range(1, 8)], "lat": [np.nan] * 7, "lon": [np.nan] * 7,
                             "location_note": ["postal code '00000' not found"] + [""] * 6})
    assert unlocated_warnings(accounts) == [
        "7 accounts could not be located and are left out of the plan: A1 (postal code '00000' not found), "
        "A2 (no coordinates, postal code or city), A3 (no coordinates, postal code or city), A4 (no coordinates, "
        "postal code or city), A5 (no coordinates, postal code or city) and 2 more; assignments.csv marks them "
        "not_located"]
