"""A deliberately weak loss-threshold attack for Lab 05: it tries ONE threshold, "member if p_y > 1/2"
(the 0–1-loss attacker of Yeom et al.), instead of sweeping every loss value, so it cannot see how much
more confident the model is on its members; the lab must notice."""

LAB = "lab05_privacy_membership_dp.ipynb"
EXERCISE = "5.2"
FUNCTION = "loss_threshold_roc"
SOURCE = '''def loss_threshold_roc(member_losses, non_member_losses):
    """Exercise 5.2 — a weak version: a single threshold at loss ln 2 (p_y = 1/2)."""
    t = np.log(2.0)
    tpr = np.array([0.0, np.mean(member_losses <= t), 1.0])
    fpr = np.array([0.0, np.mean(non_member_losses <= t), 1.0])
    return fpr, tpr, float(np.trapezoid(tpr, fpr))'''
TURNS = ("overfit dense model: the loss attack leaks, its AUC above chance (0.5) by more than two "
         "standard errors")
