"""Multi-label data: grouping by a chosen label, partial matches, labels by name (hand-made cases)."""

import numpy as np

from hashviz.labels import group_names, grouping_choices, label_groups, label_text, partial_matches, relevance_rule

HOT = np.array([[1, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]], dtype=np.uint8)
NAMES = ["person", "dog", "car"]


def test_a_chosen_label_splits_items_into_with_and_without():
    np.testing.assert_array_equal(label_groups(HOT, 1), [1, 1, 0, 0])
    assert group_names(NAMES, 1, multi_label=True) == ["without dog", "with dog"]
    np.testing.assert_array_equal(label_groups(HOT), [0, 1, 2, -1])           # first label; -1 = none
    np.testing.assert_array_equal(label_groups(np.array([2, 0])), [2, 0])     # single-label: the class
    assert list(grouping_choices(HOT, NAMES)) == [None, 0, 1, 2]
    assert grouping_choices(np.array([0, 1]), NAMES) == {}


def test_partial_matches_share_a_label_but_not_all():
    query = np.array([1, 1, 0], dtype=np.uint8)
    np.testing.assert_array_equal(partial_matches(query, HOT), [False, True, False, False])
    assert not partial_matches(np.int64(1), np.array([1, 2])).any()


def test_labels_read_by_name_and_the_rule_is_stated():
    assert label_text(HOT[0], NAMES) == "person+dog" and label_text(HOT[3], NAMES) == "none"
    assert "shares at least one label" in relevance_rule(HOT)
    assert relevance_rule(np.array([1])) == "relevant = same class as the query"
