"""hashviz: see, teach and debug learned binary codes for image retrieval.

`import hashviz as hv` gives the Python API (hashviz.api, docs/python-api.md): hv.load, hv.from_arrays,
hv.from_network, hv.evaluate, hv.neighbours, hv.compare, hv.launch_app and hv.Model. They are loaded on
first use, so importing hashviz imports neither streamlit nor torch.
"""

from hashviz.errors import HashvizError

__version__ = "0.1.0"
_API = ("Model", "load", "from_arrays", "from_network", "evaluate", "neighbours", "compare", "launch_app")
__all__ = ["HashvizError", "__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        from hashviz import api
        return getattr(api, name)
    raise AttributeError(f"module 'hashviz' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_API))
