"""Datasets and protocol splits."""

from hashviz.data.datasets import Dataset, list_datasets, load_dataset
from hashviz.data.protocols import (PROTOCOLS, Split, default_protocol, describe_protocol, make_split,
                                    seen_labels)

__all__ = ["Dataset", "Split", "PROTOCOLS", "default_protocol", "describe_protocol",
           "list_datasets", "load_dataset", "make_split", "seen_labels"]
