"""Stock keys: one string per (sku, location) pair, the pair as compact JSON, whatever the ids hold."""

import json

import pytest

from shopfloor.store.inventory import split_key, stock_key

PAIRS = [
    ("SKU-00001", "LOC-01"),
    ("a|b", "c"),
    ("a", "b|c"),
    ('say "hi"', "back\\slash"),
    ("tab\there", "new\nline"),
    ("größe", "Lager-Ä"),
    ("\u2028", "\x7f"),
    ("", " "),
]


@pytest.mark.parametrize(("sku", "location"), PAIRS)
def test_a_key_is_the_pair_as_compact_json(sku: str, location: str) -> None:
    assert stock_key(sku, location) == json.dumps([sku, location], separators=(",", ":"))
    assert split_key(stock_key(sku, location)) == (sku, location)


def test_pairs_that_join_to_the_same_text_get_different_keys() -> None:
    assert stock_key("a|b", "c") != stock_key("a", "b|c")
    assert stock_key('a","b', "c") != stock_key("a", 'b","c')
