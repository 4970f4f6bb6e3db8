"""Tests for copilot.segmentation.analysis.choose: the deterministic rule on hand-made sweep tables."""

from __future__ import annotations

import pytest

from copilot.core.errors import SettingsError
from copilot.segmentation.analysis.choose import recommend
from copilot.segmentation.analysis.sweep import SweepRow, SweepTable

BAND = (3, 7)


def row(algorithm: str, k: int, *, icl: float | None = None, silhouette: float = 0.3,
        min_share: float = 0.1, noise_share: float = 0.0, band=BAND) -> SweepRow:
    return SweepRow(
        algorithm=algorithm, k=k, silhouette=silhouette, davies_bouldin=1.0,
        calinski_harabasz=100.0, bic=None if icl is None else icl - 5, icl=icl,
        stability=0.9, min_share=min_share, noise_share=noise_share,
        in_band=band[0] <= k <= band[1], seconds=0.01,
    )


def table(*rows: SweepRow, band=BAND) -> SweepTable:
    algorithms = tuple(dict.fromkeys(r.algorithm for r in rows))
    return SweepTable(
        rows=rows, algorithms=algorithms, k_values=tuple(sorted({r.k for r in rows})),
        band=band, fit_rows=1000, complete_rows=1000, eval_rows=1000, n_resamples=4,
        complete_rows_only=True,
        random_state=0,
    )


def gmm(icls: dict[int, float], **kw) -> list[SweepRow]:
    return [row("gmm", k, icl=v, **kw) for k, v in icls.items()]


def one_sentence_ish(text: str) -> None:
    assert "\n" not in text and text.endswith(".")


# ------------------------------------------------------------------------------ lowest ICL


def test_lowest_icl_wins_among_eligible_rows():
    choice = recommend(table(*gmm({3: 1000.0, 4: 950.0, 5: 990.0, 6: 1020.0})))
    assert (choice.algorithm, choice.k) == ("gmm", 4)
    assert choice.rule == "lowest ICL"
    assert "k=4" in choice.reason and "Gaussian mixture" in choice.reason
    assert "Next best: k=5 (ICL +40)" in choice.reason
    one_sentence_ish(choice.reason)


def test_auto_prefers_the_mixture_over_better_silhouettes():
    rows = gmm({3: 1000.0, 4: 900.0}, silhouette=0.2) + [
        row("kmeans", 3, silhouette=0.9), row("kmeans", 4, silhouette=0.5)]
    choice = recommend(table(*rows))
    assert (choice.algorithm, choice.k) == ("gmm", 4)


def test_a_row_below_the_minimum_share_is_not_chosen():
    rows = gmm({3: 1000.0, 4: 950.0}) + [row("gmm", 5, icl=800.0, min_share=0.01)]
    choice = recommend(table(*rows))
    assert choice.k == 4
    assert "at least 2% of customers" in choice.reason
    # with a lower floor the small-segment row is eligible and wins
    assert recommend(table(*rows), min_share=0.005).k == 5


def test_when_no_row_is_eligible_the_best_of_all_is_chosen_and_said_so():
    rows = gmm({3: 1000.0, 4: 950.0}, min_share=0.01)
    choice = recommend(table(*rows))
    assert choice.k == 4
    assert "no option kept every segment above 2%" in choice.reason


# ---------------------------------------------------------------------------------- band


def test_the_band_is_a_constraint_when_an_in_band_option_is_eligible():
    # k=2 scores best overall, but the user serves 3-7 audiences: the best in-band k wins and
    # the reason names the better out-of-band option instead of choosing it silently.
    choice = recommend(table(*gmm({2: 900.0, 3: 1008.0, 4: 1003.0, 8: 995.0})))
    assert choice.k == 4
    assert "within your range of 3-7 segments" in choice.reason
    assert "Outside that range, k=2 scored better" in choice.reason
    keys = [(c.algorithm, c.k) for c in choice.shortlist]
    assert ("gmm", 2) in keys
    assert any("outside your 3-7 range" in c.why for c in choice.shortlist)
    # the best in band is chosen plainly when it is also the best overall
    choice = recommend(table(*gmm({2: 1100.0, 3: 1000.0, 4: 1003.0})))
    assert choice.k == 3 and "Outside that range" not in choice.reason


def test_out_of_band_is_chosen_only_when_nothing_in_band_is_eligible():
    rows = gmm({2: 900.0, 8: 950.0}) + [row("gmm", 5, icl=800.0, min_share=0.01)]
    assert recommend(table(*rows)).k == 2


def test_band_is_taken_from_the_table():
    rows = gmm({2: 1000.0, 5: 1005.0, 8: 1004.0}, band=(8, 10))
    assert recommend(table(*rows, band=(8, 10))).k == 8
    assert recommend(table(*rows, band=(3, 7))).k == 5


def test_band_applies_to_silhouette_choices_too():
    rows = [row("kmeans", 2, silhouette=0.60), row("kmeans", 3, silhouette=0.40),
            row("kmeans", 4, silhouette=0.3)]
    choice = recommend(table(*rows), algorithm="kmeans")
    assert choice.k == 3 and "k=2 scored better" in choice.reason


# ------------------------------------------------------------------------------ user's k


def test_users_k_is_honoured_even_below_the_floor_with_a_note():
    rows = gmm({3: 1000.0, 4: 950.0}) + [row("gmm", 5, icl=1200.0, min_share=0.01)]
    choice = recommend(table(*rows), k=5)
    assert (choice.algorithm, choice.k) == ("gmm", 5)
    assert choice.rule == "user's k"
    assert "as asked" in choice.reason
    assert "Note:" in choice.reason and "1.0%" in choice.reason and "below the 2%" in choice.reason
    one_sentence_ish(choice.reason)
    # an eligible k gets no note
    assert "Note:" not in recommend(table(*rows), k=3).reason


def test_users_k_within_a_chosen_algorithm():
    rows = gmm({3: 1000.0, 4: 950.0}) + [row("kmeans", 3), row("kmeans", 4)]
    choice = recommend(table(*rows), algorithm="kmeans", k=3)
    assert (choice.algorithm, choice.k) == ("kmeans", 3)


def test_users_k_outside_the_sweep_raises_settings_error():
    with pytest.raises(SettingsError) as err:
        recommend(table(*gmm({3: 1000.0, 4: 950.0})), k=9)
    assert "k=9" in str(err.value)
    one_sentence_ish(str(err.value))


def test_algorithm_without_rows_raises_settings_error():
    with pytest.raises(SettingsError) as err:
        recommend(table(*gmm({3: 1000.0})), algorithm="hdbscan")
    assert "HDBSCAN" in str(err.value)
    one_sentence_ish(str(err.value))


# ----------------------------------------------------------------------------- shortlist


def full_table() -> SweepTable:
    rows = gmm({2: 1100.0, 3: 1000.0, 4: 950.0, 5: 990.0, 6: 1020.0})
    rows += [row("kmeans", k, silhouette=s) for k, s in {2: 0.5, 3: 0.45, 4: 0.4, 5: 0.2}.items()]
    rows += [row("hierarchical", k, silhouette=s) for k, s in {2: 0.48, 3: 0.47, 4: 0.3}.items()]
    rows += [row("hdbscan", 3, silhouette=0.35, noise_share=0.1)]
    return table(*rows)


def test_shortlist_has_the_choice_first_no_duplicates_and_at_most_five():
    t = full_table()
    for kw in ({}, {"algorithm": "kmeans"}, {"algorithm": "hierarchical"},
               {"algorithm": "hdbscan"}, {"k": 5}, {"algorithm": "kmeans", "k": 4}):
        choice = recommend(t, **kw)
        keys = [(c.algorithm, c.k) for c in choice.shortlist]
        assert keys[0] == (choice.algorithm, choice.k)
        assert len(keys) == len(set(keys))
        assert 1 <= len(keys) <= 5
        assert all(t.row(a, k) for a, k in keys)  # only candidates from the sweep
        assert all(c.why.startswith(("Gaussian mixture", "k-means", "agglomerative", "HDBSCAN"))
                   for c in choice.shortlist)
    keys = [(c.algorithm, c.k) for c in recommend(t).shortlist]
    assert keys == [("gmm", 4), ("gmm", 5), ("gmm", 3), ("kmeans", 4), ("kmeans", 2)]


def test_shortlist_leaves_out_ineligible_alternatives():
    rows = gmm({3: 1000.0, 4: 950.0}) + [row("gmm", 5, icl=900.0, min_share=0.01),
                                         row("hdbscan", 4, noise_share=0.5, silhouette=0.9)]
    keys = [(c.algorithm, c.k) for c in recommend(table(*rows)).shortlist]
    assert keys == [("gmm", 4), ("gmm", 3)]


# ---------------------------------------------------------------------- other algorithms


def test_kmeans_is_chosen_by_silhouette():
    t = full_table()
    choice = recommend(t, algorithm="kmeans")
    assert choice.algorithm == "kmeans"
    assert choice.rule == "best silhouette"
    # k=2 has the best silhouette but is outside 3-7: the best in-band k is chosen
    assert choice.k == 3
    assert "k-means with k=3" in choice.reason and "k=2 scored better" in choice.reason
    rows = [row("kmeans", k, silhouette=s) for k, s in {3: 0.3, 4: 0.55, 5: 0.5}.items()]
    assert recommend(table(*rows), algorithm="kmeans").k == 4


def test_hierarchical_is_chosen_by_silhouette():
    choice = recommend(full_table(), algorithm="hierarchical")
    assert (choice.algorithm, choice.rule) == ("hierarchical", "best silhouette")
    assert choice.k == 3  # k=2's 0.48 is better, but 3 is the best in the 3-7 band
    assert "within your range of 3-7 segments" in choice.reason


def test_hdbscan_with_too_much_noise_is_not_eligible():
    rows = [row("hdbscan", 4, noise_share=0.5)]
    choice = recommend(table(*rows), algorithm="hdbscan")
    # nothing eligible: the best of all is taken, and the reason says so
    assert choice.k == 4 and "no option kept" in choice.reason


def test_auto_without_a_mixture_uses_the_first_algorithm():
    rows = [row("kmeans", 3, silhouette=0.2), row("kmeans", 4, silhouette=0.4)]
    choice = recommend(table(*rows))
    assert (choice.algorithm, choice.k, choice.rule) == ("kmeans", 4, "best silhouette")


def test_leaving_the_band_is_said_in_one_sentence_and_the_best_in_band_is_shortlisted():
    # The 45,000-row marketing table of issue 16: every option of 3 or more has a smallest
    # segment of 1.8%, under the 2% floor, so k=2 is chosen; the summary must say why and the
    # shortlist must still offer the best in-band option.
    rows = [row("gmm", 2, icl=1000.0, min_share=0.30)] + [
        row("gmm", k, icl=990.0 - k, min_share=0.018) for k in (3, 4, 5, 6, 7)]
    choice = recommend(table(*rows))
    assert choice.k == 2
    assert "No option with 3-7 segments kept every segment above 2%" in choice.reason
    assert "k=7" in choice.reason and "1.8%" in choice.reason
    in_band = [c for c in choice.shortlist if c.k == 7]
    assert in_band and "best in your 3-7 range" in in_band[0].why
    assert "below 2%" in in_band[0].why


def test_an_in_band_choice_adds_no_out_of_band_sentence():
    choice = recommend(table(*gmm({3: 1000.0, 4: 950.0, 5: 990.0})))
    assert choice.k == 4 and "No option" not in choice.reason and "shortlist" not in choice.reason
