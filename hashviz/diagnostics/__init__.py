"""Diagnostics of learned hash codes: pure functions, numpy in, numpy / dataclasses out.

What a page can show about one model's database codes:

* bit balance       -- share of +1 per bit, its entropy, a balance score, dead bits;
* bit independence  -- correlation and mutual-information matrices, "effective bits";
* quantization      -- deep models: how far the continuous outputs u are from sign(u);
                       quantization (pq) models: codeword usage and perplexity per codebook;
* bucket occupancy  -- distinct codes, largest buckets, bucket sizes, cross-class collisions;
* distances         -- Hamming distance histograms of same-class vs different-class pairs.

`diagnose(...)` runs all of them. Everything is vectorised; pairwise statistics are sampled
(seeded), so n = 69,000 codes of 64 bits take well under a second.

Codes follow the contract in docs/CONTRACTS.md: packed uint8 (n, bits // 8), bit value 1 means +1.

One module per tab of the Diagnostics page, all re-exported here: `balance`, `independence`,
`quantization` (output error and codeword usage), `buckets`, `distances`, and `summary` (`diagnose`
runs every diagnostic that applies; `diagnose_model` reads a model directory); `common` holds the
shared helpers.
"""

from hashviz.diagnostics.balance import BitBalance, bit_balance, bit_table
from hashviz.diagnostics.buckets import Bucket, BucketStats, bucket_occupancy, bucket_table
from hashviz.diagnostics.common import binary_entropy, primary_labels
from hashviz.diagnostics.distances import DistanceStats, distance_distributions
from hashviz.diagnostics.independence import BitIndependence, bit_independence, effective_bits
from hashviz.diagnostics.quantization import CodewordUsage, OutputError, codeword_usage, output_error
from hashviz.diagnostics.summary import SUMMARY_LABELS, Diagnosis, diagnose, diagnose_model, summary_table

__all__ = [
    "BitBalance", "BitIndependence", "OutputError", "CodewordUsage", "BucketStats", "Bucket",
    "DistanceStats", "Diagnosis",
    "bit_balance", "bit_independence", "output_error", "codeword_usage", "bucket_occupancy",
    "distance_distributions", "diagnose", "binary_entropy", "effective_bits",
    "primary_labels", "diagnose_model", "bit_table", "bucket_table", "summary_table", "SUMMARY_LABELS",
]
