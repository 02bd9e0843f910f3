"""Hashing methods: one module per family of the survey, plus shallow baselines and regularisers.

The registry (hashviz.methods.registry) is a table of every method's facts; importing this package
imports it alone, so listing methods loads no family module and no torch. A family module is
imported when one of its methods is built (`create_method`, or an estimator via hashviz.hashers).
"""

from hashviz.methods.registry import (FAMILIES, FAMILY_INFO, FAMILY_TITLES, TEACHING_ORDER, FamilyInfo, MethodInfo,
                                      create_method, family_info, list_methods, method_info)

__all__ = ["FAMILIES", "FAMILY_INFO", "FAMILY_TITLES", "TEACHING_ORDER", "FamilyInfo", "MethodInfo", "create_method",
           "family_info", "list_methods", "method_info"]
