"""Hashing methods: one module per family of the survey, plus shallow baselines and regularisers."""

from hashviz.methods.registry import (FAMILIES, FAMILY_TITLES, MethodInfo, create_method,
                                      list_methods, method_info, register_method)

__all__ = ["FAMILIES", "FAMILY_TITLES", "MethodInfo", "create_method", "list_methods",
           "method_info", "register_method"]
