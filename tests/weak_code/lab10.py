"""A deliberately weak threshold search for Lab 10: it ignores the recall target and keeps the
default threshold 0.5, so the pruned model's lost recall is never repaired; the lab must notice."""

LAB = "lab10_case_finance.ipynb"
EXERCISE = "10.2"
FUNCTION = "threshold_for_recall"
SOURCE = '''def threshold_for_recall(y, scores, target_recall):
    """Exercise 10.2 — weak: always the default threshold, whatever the target."""
    return 0.5'''
TURNS = ("after re-tuning the threshold on validation data, the pruned model's test fraud recall is no "
         "more than 5 pt below the dense model's (3 seeds)")
