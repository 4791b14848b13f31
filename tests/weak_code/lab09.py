"""A deliberately weak sticker step for Lab 09: it descends the loss (the sign is flipped), so the
"adversarial" sticker helps the model instead of fooling it; the lab must notice."""

LAB = "lab09_case_driving.ipynb"
EXERCISE = "9.3"
FUNCTION = "sticker_step"
SOURCE = '''def sticker_step(model, x, y, sticker, mask, step_size):
    """Exercise 9.3 — weak: steps DOWN the loss (gradient descent instead of ascent)."""
    from utils.adversarial import input_gradient

    grad = input_gradient(model, apply_sticker_impl(x, sticker, mask), y).sum(axis=0)
    return np.clip(sticker - step_size * np.sign(grad) * mask, 0.0, 1.0).astype(np.float32)'''
TURNS = ("a universal sticker fitted on other photos cuts the pruned model's held-out accuracy at least "
         "20 pt more than random colours in the same place (3 seeds)")
