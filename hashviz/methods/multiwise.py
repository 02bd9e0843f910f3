"""placeholder: multiwise methods come next."""
