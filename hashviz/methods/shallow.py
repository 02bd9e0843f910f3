"""placeholder: shallow methods come next."""
