"""The plugin's own tests: llara's conformance kit, one case per component of this
distribution and check (run them with `pytest` from this folder once the plugin is installed)."""

from llara_core.slots import ITEM_ENCODERS
from llara_core.testing import check_item_encoder, parametrize_with_checks


@parametrize_with_checks(ITEM_ENCODERS, distribution="llara-example-encoder")
def test_conformance(check):
    check()


def test_conformance_with_other_params():
    results = check_item_encoder("bag_of_items", {"dim": 8, "history_len": 3})
    assert set(results.values()) == {"passed"}
