"""A deliberately weak encrypted network for Lab 06: the server forgets the square activation, so it
computes a linear model on the ciphertexts instead of the trained network; the lab must notice."""

LAB = "lab06_homomorphic_encryption.ipynb"
EXERCISE = "6.3"
FUNCTION = "encrypted_forward"
SOURCE = '''def encrypted_forward(weights, enc_x, batch_size, dense):
    """Exercise 6.3 — a weak version: no activation between the two layers."""
    w = he.padded(weights)
    hidden = ts.CKKSVector.pack_vectors(dense(enc_x, w.w1, w.b1, batch_size))
    return dense(hidden, w.w2, w.b2, batch_size)'''
TURNS = "encrypted and plaintext predictions agree on ≥ 98 % of the encrypted images"
