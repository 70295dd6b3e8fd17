"""Training recipes: the generic parts (base, recipe) and one module per paper.

Each paper module registers its Method class in `ltlib.registry.METHODS` when imported; `ltlib/__init__.py`
imports them all.
"""
