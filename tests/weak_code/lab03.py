"""A deliberately weak drop-and-grow for Lab 03: it never moves a connection (it returns the mask unchanged),
so "dynamic" sparse training is the fixed random mask again; the lab must notice."""
LAB = "lab03_dynamic_pruning.ipynb"
EXERCISE = "3.2"          # the mechanism exercise
FUNCTION = "drop_and_grow"
SOURCE = '''def drop_and_grow(weights, mask, n, grow_scores):
    """Exercise 3.2 — weak: keeps every connection where it is."""
    return mask.copy()'''
TURNS = ("at 90 % sparsity, SET (random regrowth) beats the fixed random sparse mask (mean gap over the "
         "seeds larger than its standard error)")
