"""One query against one model's database: what the Retrieval page shows, as data.

One module per concern, all re-exported here so the page reads `from hashviz import retrieval as R`:
- `query`: the query (query-set row, database item, upload) and its code in a model;
- `ranking`: the top n through the search index, tie groups, right/wrong, precision@n and AP;
- `ball`: the Hamming-ball (hash lookup) view; its figure is plots.ball_figure;
- `presentation`: thumbnail-grid tiles, tables, labels as text, code strips as HTML;
- `upload`: PNG/JPEG bytes decoded into the dataset's shape, every step said;
- `url_state`: the view read from and written to a shared link;
- `pairing`: which models can sit side by side, and the default pair.
"""

from hashviz.retrieval.ball import BALL_RADIUS, Ball, ball_note, ball_table, class_counts_by_distance, hamming_ball
from hashviz.retrieval.pairing import comparable_models, comparison_choice, default_comparison
from hashviz.retrieval.presentation import (SYMBOL, ball_grid_data, code_strip_html, enlarge, grid_data, item_detail,
                                            item_note, label_text, png_data_uri, query_strip_html, ranking_frame)
from hashviz.retrieval.query import (Query, QueryCode, choose_query, query_code, query_from_database, query_from_set,
                                     query_from_upload, random_query_row, upload_label)
from hashviz.retrieval.ranking import (RIGHT, UNKNOWN, WRONG, Ranking, TieGroup, format_distance, protocol_note,
                                       rank_query, scores_text)
from hashviz.retrieval.upload import INVERT_CHOICES, MAX_UPLOAD_PIXELS, Upload, dark_background, decode_upload
from hashviz.retrieval.url_state import N_RANGE, VIEWS, UrlState, parse_url_state, url_params

__all__ = [
    "BALL_RADIUS", "Ball", "ball_note", "ball_table", "class_counts_by_distance", "hamming_ball",
    "comparable_models", "comparison_choice", "default_comparison",
    "SYMBOL", "ball_grid_data", "code_strip_html", "enlarge", "grid_data",
    "item_detail", "item_note", "label_text", "png_data_uri", "query_strip_html", "ranking_frame",
    "Query", "QueryCode", "choose_query", "query_code", "query_from_database", "query_from_set", "query_from_upload",
    "random_query_row", "upload_label",
    "RIGHT", "UNKNOWN", "WRONG", "Ranking", "TieGroup", "format_distance", "protocol_note", "rank_query",
    "scores_text",
    "INVERT_CHOICES", "MAX_UPLOAD_PIXELS", "Upload", "dark_background", "decode_upload",
    "N_RANGE", "VIEWS", "UrlState", "parse_url_state", "url_params",
]
