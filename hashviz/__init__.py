"""hashviz: see, teach and debug learned binary codes for image retrieval."""

from hashviz.errors import HashvizError

__version__ = "0.1.0"
__all__ = ["HashvizError", "__version__"]
