"""Hashing methods: one module per family of the survey, plus shallow baselines and regularisers.

Importing the package imports every family module, whose `register_method` decorators fill the
registry (hashviz.methods.registry), so the registry itself never imports a family.
"""

from hashviz.methods.registry import (FAMILIES, FAMILY_INFO, FAMILY_TITLES, TEACHING_ORDER, FamilyInfo, MethodInfo,
                                      create_hasher, create_method, family_info, list_methods, method_info,
                                      register_method)
# importing the family modules registers their methods
from hashviz.methods import (classification, implicit, multiwise, pairwise, quantization, shallow,  # noqa: F401
                             unsupervised)
from hashviz.methods import ensemble  # noqa: F401  (after the families: its members are theirs)

__all__ = ["FAMILIES", "FAMILY_INFO", "FAMILY_TITLES", "TEACHING_ORDER", "FamilyInfo", "MethodInfo", "create_hasher",
           "create_method", "family_info", "list_methods", "method_info", "register_method"]
