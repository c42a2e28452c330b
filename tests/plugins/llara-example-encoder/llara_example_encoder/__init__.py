"""An example llara plugin distribution: one item encoder, declared as an entry point."""

from llara_example_encoder.bag_of_items import BagOfItemsEncoder

__all__ = ["BagOfItemsEncoder"]
