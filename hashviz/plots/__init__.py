"""Plotly figure builders: pure functions, arrays in, `plotly.graph_objects.Figure` out.

Every figure states its title and axis labels. Colour never carries meaning alone: dead bits get a
pattern and a text label, curves of different models get different markers and dashes, the code
map splits classes / right-wrong / bit values into legend entries with different marker symbols.

One module per page's figures, re-exported here (`from hashviz import plots`): `code_figures`
(Diagnostics), `curves` (Evaluate, Train), `code_map` (Code map; `selected_rows` reads the global row
ids in `customdata` back from a Streamlit selection event), `ball` (Retrieval), `compare` (Compare), `lenses` (the Hamming
lenses on Retrieval, Diagnostics and Code map); `style` holds the
palette, markers and the common layout.
"""

from hashviz.plots.ball import ball_figure
from hashviz.plots.code_figures import (bit_balance_figure, bit_entropy_figure, bucket_size_figure,
                                        codeword_usage_figure, correlation_heatmap, distance_distribution_figure,
                                        effective_bits_figure, mutual_info_heatmap, output_error_per_bit_figure,
                                        quantization_error_figure)
from hashviz.plots.code_map import code_map_figure, selected_rows
from hashviz.plots.compare import ap_scatter_figure
from hashviz.plots.lenses import bit_split_figure, cube_figure, lookup_figure, trust_map_figure
from hashviz.plots.curves import (confusion_heatmap, map_vs_bits_figure, pr_curve_figure, precision_at_k_figure,
                                  training_curves_figure)
from hashviz.plots.style import PALETTE, SYMBOLS, WEBGL_THRESHOLD

__all__ = [
    "bit_balance_figure", "correlation_heatmap", "mutual_info_heatmap", "quantization_error_figure",
    "codeword_usage_figure", "bucket_size_figure", "distance_distribution_figure", "pr_curve_figure",
    "precision_at_k_figure", "map_vs_bits_figure", "confusion_heatmap", "code_map_figure",
    "selected_rows", "PALETTE", "SYMBOLS", "WEBGL_THRESHOLD", "effective_bits_figure",
    "output_error_per_bit_figure", "bit_entropy_figure", "ball_figure", "training_curves_figure",
    "bit_split_figure", "lookup_figure", "cube_figure", "trust_map_figure", "ap_scatter_figure",
]
