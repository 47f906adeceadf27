"""The bounded store behind kept clients, kept tokens and kept introspection answers."""

from tokensvc.kept_rows import KeptRows


def test_past_the_limit_the_oldest_entry_makes_room():
    rows = KeptRows(limit=3)
    rows.put("a", 1)
    rows.put("b", 2)
    rows.put("a", 3)  # kept again: now the newest
    rows.put("c", 4)
    rows.put("d", 5)
    assert rows.oldest_first() == ["a", "c", "d"]
    assert (rows.get("a"), rows.get("b"), rows.get("d")) == (3, None, 5)


def test_a_drop_with_only_spares_a_newer_value_kept_meanwhile():
    judged, newer = object(), object()
    rows = KeptRows(limit=4)
    rows.put("t", judged)
    rows.put("t", newer)  # another thread keeps a newer row
    rows.drop("t", only=judged)
    assert rows.get("t") is newer
    rows.drop("t", only=newer)
    assert rows.get("t") is None


def test_drop_and_clear():
    rows = KeptRows(limit=4)
    rows.put("a", 1)
    rows.put("b", 2)
    rows.drop("a")
    rows.drop("missing")
    assert rows.oldest_first() == ["b"]
    rows.clear()
    assert rows.oldest_first() == []
