"""A deliberately weak allocation for Lab 04: it gives every layer the global budget (uniform pruning) and
ignores the sensitivity scan, so "guided" pruning is uniform pruning again; the lab must notice."""
LAB = "lab04_accuracy_recovery.ipynb"
EXERCISE = "4.2"          # the mechanism exercise (allocation under a global budget)
FUNCTION = "allocate_ratios"
SOURCE = '''def allocate_ratios(scan, budget):
    """Exercise 4.2 — weak: the same sparsity for every layer."""
    return {name: budget for name in scan.layer.unique()}'''
TURNS = ("sensitivity-guided ratios beat uniform ratios at 85 % global sparsity after the same fine-tuning "
         "(mean gap over the seeds larger than its standard error)")
