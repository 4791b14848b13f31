"""A deliberately weak PGD iteration for Lab 07: it steps along the raw gradient instead of its sign, so its
steps are tiny and the attack hardly moves from its random start; the lab must notice."""
LAB = "lab07_adversarial_robustness.ipynb"
EXERCISE = "7.2"
FUNCTION = "pgd_step"
SOURCE = '''def pgd_step(model, x_adv, x, y, eps, alpha):
    x_adv = tf.convert_to_tensor(x_adv, dtype=tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x_adv)
        loss = keras.losses.sparse_categorical_crossentropy(y, model(x_adv))
    gradient = tape.gradient(loss, x_adv).numpy()
    stepped = x_adv.numpy() + alpha * gradient          # weak: the raw gradient, not its sign
    return np.clip(np.clip(stepped, x - eps, x + eps), 0.0, 1.0).astype(np.float32)'''
TURNS = "PGD brings the dense model's accuracy below 30 % at the lab's ε"
