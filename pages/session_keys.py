"""Session-state keys that more than one file reads or writes, named once. A key that one page keeps
to itself (its widgets' and callbacks' keys) stays in that page, prefixed by it: rq_ (Retrieval and
its lenses), cm_ (Code map), diag_ (Diagnostics), evaluate_ (Evaluate and its tabs), lens_ (Metric
lens), compare_ (Compare), train_ (Train)."""

MODEL_NAME = "model_name"            # the sidebar's model picker; Train and Compare set it in callbacks
MODELS_ROOT = "models_root"          # the sidebar's models-root box
SEARCH_BACKEND = "search_backend"    # the sidebar's search backend (pages.common.FAISS or MILVUS)
MILVUS_URI = "milvus_uri"            # the sidebar's Milvus URI box
MILVUS_FAILED = "milvus_failed"      # {uri: why Milvus failed there}: a dead server is tried once, not per click

RETRIEVAL_LINK = "retrieval_link"    # the one pending link to a row on Retrieval (pages/navigation.py)
RETRIEVAL_VIEW = "retrieval_view"    # URL state Retrieval opens with, left by a callback (pages/navigation.py)
RETRIEVAL_URL_READ = "rq_url_read"   # Retrieval has taken its view from the URL (once, or again after Compare)
RETRIEVAL_TOP_N = "rq_n"             # Retrieval's top-n slider ("rq_" + the URL's "n"); Compare's link keeps it
