"""True labels against the model's contract: classes, numbers, duplicates."""

from __future__ import annotations

from loopml.core.labels import LabelContract, check, conform

YES_NO = LabelContract("classification", ("no", "yes"), "m v1")
ZERO_ONE = LabelContract("classification", (0, 1), "m v2")
PRICE = LabelContract("regression", (), "p v1")


def test_a_label_is_one_of_the_classes_and_stored_as_the_class() -> None:
    assert conform("yes", YES_NO) == ("yes", "")
    assert conform(1.0, ZERO_ONE) == (1, "") and conform("1", ZERO_ONE) == (1, "")
    assert conform(True, ZERO_ONE)[1].startswith("label True is not a class of m v2")
    assert conform(1, YES_NO)[1] == "label 1 is not a class of m v1 (classes: 'no', 'yes')"
    assert conform("Yes", YES_NO)[1].endswith("did you mean 'yes'?")


def test_a_regression_label_is_a_finite_number() -> None:
    assert conform("3.5", PRICE) == (3.5, "") and conform(2, PRICE) == (2.0, "")
    for bad in ("cheap", float("nan"), float("inf"), True, None):
        assert "is not a finite number" in conform(bad, PRICE)[1]


def test_duplicates_are_counted_and_conflicts_refused() -> None:
    items = [("a", 0, "no"), ("a", 0, "no"), ("a", 1, "yes"), ("a", 1, "no"), ("b", 0, "?")]
    found = check(items, YES_NO, lambda i: f"item {i}")

    assert found.labels == [("a", 0, "no"), ("a", 1, "yes")] and found.duplicates == 1
    assert found.refused == [
        "item 3 (request_id 'a', row 1): labelled 'no' after item 2 labelled it 'yes'; "
        "keep the true one",
        "item 4 (request_id 'b', row 0): label '?' is not a class of m v1 (classes: 'no', 'yes')",
    ]
