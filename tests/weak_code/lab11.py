"""A deliberately weak temperature fit for Lab 11: it searches T ≥ 1 only, as if every model were
over-confident, so it cannot sharpen the under-confident one-shot pruned model; the lab must notice."""

LAB = "lab11_case_medicine.ipynb"
EXERCISE = "11.3"
FUNCTION = "fit_temperature"
SOURCE = '''def fit_temperature(probs, y):
    grid = np.geomspace(1.0, 20.0, 400)
    return float(grid[np.argmin([temperature_nll_impl(probs, y, t) for t in grid])])'''
TURNS = "temperature scaling lowers the one-shot pruned model's test ECE, beyond the seed-to-seed noise"
