"""placeholder: implicit methods come next."""
