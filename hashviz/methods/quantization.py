"""placeholder: quantization methods come next."""
