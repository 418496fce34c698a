"""The listwise combiner: it learns the signal that marks the resolving candidate, and it chooses its pull toward
zero weights by cross-validation on the training instances, so a signal that does not help held-out gets none."""

from __future__ import annotations

import numpy as np

from harness.select.combiner import STRENGTHS, Combiner, fit_combiner
from harness.select.features import FEATURES

PRIOR, SHARE = FEATURES.index("prior"), FEATURES.index("group_share")


def make_instances(count: int, share_marks_fix: bool, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Five candidates per instance; the one with the highest prior resolves 6 times in 10, another at random
    otherwise. With `share_marks_fix`, the resolving candidate's group_share is higher than the others'; else
    group_share is noise."""
    rng = np.random.default_rng(seed)
    instances = []
    for _ in range(count):
        rows = rng.normal(size=(5, len(FEATURES)))
        rows[:, PRIOR] = [2.0, 1.0, 0.0, -1.0, -2.0]
        good = 0 if rng.random() < 0.6 else int(rng.integers(1, 5))
        if share_marks_fix:
            rows[:, SHARE] = rng.normal(size=5) * 0.3
            rows[good, SHARE] += 2.0
        resolved = np.zeros(5, bool)
        resolved[good] = True
        instances.append((rows, resolved))
    return instances


def count_top(combiner: Combiner, instances) -> int:
    return sum(bool(resolved[int(np.argmax(combiner.score(rows)))]) for rows, resolved in instances)


def test_a_signal_that_marks_the_fix_is_learned_and_beats_the_prior_alone():
    train, test = make_instances(300, True), make_instances(300, True, seed=1)
    combiner = fit_combiner(train)
    assert combiner.strength in STRENGTHS
    assert combiner.weights[SHARE] > 0 and combiner.weights[PRIOR] > 0
    prior_only = Combiner(np.eye(len(FEATURES))[PRIOR], np.ones(len(FEATURES)))
    assert count_top(combiner, test) > count_top(prior_only, test) + 60  # the prior alone gets about 180


def test_noise_gets_the_strongest_pull_and_the_pick_is_the_prior_s():
    train, test = make_instances(300, False), make_instances(300, False, seed=1)
    combiner = fit_combiner(train)
    assert combiner.strength == STRENGTHS[0]
    picks = [int(np.argmax(combiner.score(rows))) for rows, _ in test]
    assert picks.count(0) >= 0.9 * len(test)  # the highest prior, as the fallback rule picks


def test_instances_that_teach_nothing_leave_the_prior_to_decide():
    rows = np.zeros((3, len(FEATURES)))
    combiner = fit_combiner([(rows, np.array([True, True, True])), (rows, np.array([False] * 3))])
    assert combiner.strength is None
    assert combiner.weights[FEATURES.index("prior_repo")] == 1.0


def test_a_saved_combiner_reads_back_with_its_strength():
    combiner = fit_combiner(make_instances(60, True))
    again = Combiner.from_json(combiner.to_json())
    assert np.allclose(again.weights, combiner.weights) and again.strength == combiner.strength


def test_a_column_constant_up_to_rounding_gets_no_blown_up_weight():
    instances = make_instances(60, True)
    lines = FEATURES.index("log_lines")
    for rows, _ in instances:
        rows[:, lines] = [0.1 + 0.2, 0.3, 0.3, 0.1 + 0.2, 0.3]  # equal but for the last bit
    combiner = fit_combiner(instances)
    assert combiner.scale[lines] == 1.0
    shifted = np.zeros((2, len(FEATURES)))
    shifted[1, lines] = 1.0  # a candidate elsewhere with one more log-line of patch
    assert abs(np.diff(combiner.score(shifted))[0]) < 1.0
