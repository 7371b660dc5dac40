"""The schema is what every module imports; its round trip must be exact."""

import numpy as np
import pandas as pd
import pytest

from core.schema import (
    LOCATIONS,
    ORIGINAL_GROUPS,
    TRAIN_COLUMNS,
    VIEW_SHOWS,
    VIEWS,
    CirculationGroups,
    SchemaError,
    location_column,
    regenerate_locations,
    split_location,
    tables_to_train,
    training_tables,
    validate_train_table,
    view_info,
    views_of,
)


def _random_train(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    locs = (rng.random((n, len(LOCATIONS))) < 0.08).astype(int)
    df = pd.DataFrame(locs, columns=list(LOCATIONS))
    df.insert(0, "Aneurysm", locs.max(axis=1))
    df.insert(0, "Index", rng.permutation(np.arange(1, 5 * n))[:n])
    return df


def test_columns_are_kium_order() -> None:
    assert len(LOCATIONS) == 21 and len(TRAIN_COLUMNS) == 23
    assert TRAIN_COLUMNS[:3] == ("Index", "Aneurysm", "L_ICA")
    assert LOCATIONS[18] == "BA" and LOCATIONS[-1] == "R_PCA"
    assert VIEWS == ("LI-A", "LI-B", "LV-A", "LV-B", "RI-A", "RI-B", "RV-A", "RV-B")


@pytest.mark.parametrize("groups", [ORIGINAL_GROUPS, CirculationGroups(
    anterior=("ICA", "AntChor", "ACA", "ACOM", "MCA", "PCOM"),
    posterior=("VA", "PICA", "SCA", "BA", "PCA"),
)])
def test_round_trip_train_to_tables_and_back(groups: CirculationGroups) -> None:
    train = _random_train(60, seed=3)
    tables = training_tables(train, groups)
    assert set(tables) == {"anterior", "posterior", "binary_anterior", "binary_posterior"}
    assert len(tables["anterior"]) == 4 * len(train) == len(tables["binary_posterior"])
    back = tables_to_train(tables, groups).set_index("Index").loc[train["Index"]].reset_index()
    pd.testing.assert_frame_equal(back, train.reset_index(drop=True), check_dtype=False)


def test_tables_take_labels_from_the_view_side() -> None:
    train = _random_train(1, seed=0)
    train.loc[:, list(TRAIN_COLUMNS[1:])] = 0
    train.loc[0, ["Aneurysm", "R_MCA", "BA"]] = 1
    t = training_tables(train)
    ant = t["anterior"].set_index("View")
    assert ant.loc["RI-A", "MCA"] == 1 and ant.loc["RI-B", "MCA"] == 1
    assert ant.loc["LI-A", "MCA"] == 0
    post = t["posterior"].set_index("View")
    assert (post["BA"] == 1).all()  # midline: from both sides
    assert t["binary_anterior"].set_index("View").loc["LI-A", "label"] == 0
    assert t["binary_anterior"].set_index("View").loc["RI-B", "label"] == 1


def test_regenerate_combines_a_b_by_max_and_ba_from_both_sides() -> None:
    per_view = {
        "LV-A": {b: 0.1 for b in ORIGINAL_GROUPS.posterior} | {"BA": 0.2},
        "RV-B": {b: 0.3 for b in ORIGINAL_GROUPS.posterior} | {"BA": 0.9},
        "LI-A": {b: 0.4 for b in ORIGINAL_GROUPS.anterior},
        "LI-B": {b: 0.6 for b in ORIGINAL_GROUPS.anterior},
    }
    out = regenerate_locations(per_view)
    assert list(out) == list(LOCATIONS)
    assert out["BA"] == 0.9 and out["L_VA"] == 0.1 and out["R_VA"] == 0.3
    assert out["L_MCA"] == 0.6 and out["R_MCA"] == 0.0  # no right I view: 0.0
    assert regenerate_locations(per_view, combine="mean")["L_MCA"] == pytest.approx(0.5)
    with pytest.raises(SchemaError):
        regenerate_locations(per_view, combine="median")


def test_joint_rule_weighs_each_view_by_its_stage1_probability_before_combining() -> None:
    per_view = {
        "LI-A": {b: 0.9 for b in ORIGINAL_GROUPS.anterior},  # confident where, no sac seen
        "LI-B": {b: 0.5 for b in ORIGINAL_GROUPS.anterior},
        "RV-A": {b: 0.4 for b in ORIGINAL_GROUPS.posterior},
    }
    scores = {"LI-A": 0.1, "LI-B": 0.8, "RV-A": 0.5}
    out = regenerate_locations(per_view, combine="joint_max", view_scores=scores)
    assert out["L_MCA"] == pytest.approx(0.4)  # max(0.9 * 0.1, 0.5 * 0.8), not 0.9
    assert out["R_VA"] == pytest.approx(0.2) and out["BA"] == pytest.approx(0.2)
    assert out["R_MCA"] == 0.0  # no view: still 0
    mean = regenerate_locations(per_view, combine="joint_mean", view_scores=scores)
    assert mean["L_MCA"] == pytest.approx((0.09 + 0.4) / 2)
    with pytest.raises(SchemaError, match="stage-1 probability"):
        regenerate_locations(per_view, combine="joint_max")


def test_names_parse_and_reject() -> None:
    info = view_info("RV-B")
    assert (info.side, info.circulation, info.projection) == ("R", "posterior", "B")
    assert views_of("anterior", "L") == ("LI-A", "LI-B")
    assert location_column("BA", "L") == "BA" and location_column("MCA", "R") == "R_MCA"
    assert split_location("L_AntChor") == ("L", "AntChor")
    for bad in ("LX-A", "li-a", "LI-C"):
        with pytest.raises(SchemaError):
            view_info(bad)
    with pytest.raises(SchemaError):
        CirculationGroups(anterior=("ICA",), posterior=("VA",))


def test_view_shows_mirrors_and_uses_known_locations() -> None:
    assert VIEW_SHOWS["LI-A"] == VIEW_SHOWS["RI-A"]
    assert set(VIEW_SHOWS) == set(VIEWS)
    assert all(b in ORIGINAL_GROUPS.anterior + ORIGINAL_GROUPS.posterior
               for shows in VIEW_SHOWS.values() for b in shows)


def test_validate_rejects_bad_tables() -> None:
    train = _random_train(5, seed=1)
    with pytest.raises(SchemaError, match="23 K-Ium columns"):
        validate_train_table(train.drop(columns=["BA"]))
    bad = train.copy()
    bad.loc[0, "L_ICA"] = 2
    with pytest.raises(SchemaError, match="0 or 1"):
        validate_train_table(bad)
    dup = pd.concat([train, train.iloc[:1]])
    with pytest.raises(SchemaError, match="duplicate"):
        validate_train_table(dup)
