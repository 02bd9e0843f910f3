"""The one exception type a user can cause; its message says what is wrong and what to do."""


class HashvizError(Exception):
    """Raised for bad input (data, model directories, codes, queries) with a readable message."""
