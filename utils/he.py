"""Homomorphic encryption (HE): inference of a small MLP on encrypted inputs, with TenSEAL (CKKS).

Who holds what:

* The **data owner** (client) creates a CKKS context with :func:`make_context`. It holds the
  *secret key*; only it can decrypt. It encrypts its inputs (:func:`encrypt_batch`) and sends
  the ciphertexts, together with the *public* part of the context (:func:`public_context`:
  parameters, public key, rotation and relinearisation keys — no secret key).
* The **model owner** (server) holds the plaintext weights. It computes on the ciphertexts
  without ever seeing the inputs (:func:`encrypted_forward`) and returns encrypted logits.
* The client decrypts them (:func:`decrypt_logits`). The server learns nothing about the input;
  the client learns the logits (and therefore something about the model — HE does not hide
  the model's answers, and it does nothing against membership inference on those answers).

The network is the CryptoNets / TenSEAL-tutorial kind (Gilad-Bachrach et al., ICML 2016;
Benaissa et al., 2021): ``x → Dense(H) → square → Dense(classes)``. CKKS can add and multiply,
so the activation must be a polynomial: ``x²`` instead of ReLU.

**Packing.** A CKKS ciphertext holds a vector of ``poly_modulus_degree / 2`` numbers
(4,096 "slots" here) and every operation acts on all of them at once. We put a whole *batch*
of ``B`` images into one ciphertext, feature by feature (TenSEAL's ``enc_matmul_encoding``):
slot ``j·B + b`` holds feature ``j`` of image ``b``. A hidden unit's pre-activation for all
``B`` images is then one plaintext multiplication plus ``log2(features)`` rotations and
additions (``enc_matmul_plain``). So the cost of layer 1 is proportional to the number of
hidden units ``H`` — and a **zero weight costs exactly as much as any other**: only removing a
whole unit (structured pruning) saves work. This is the point of HE-PEx (Aharoni et al.,
ESORICS 2023): under packing, pruning must remove whole packed blocks to pay off.
"""

import os
import sys
import time
from dataclasses import dataclass

import numpy as np
from sklearn.datasets import load_digits

from . import keras, tf
from ._core import require_model
from ._validate import check_int
from .data import DIGIT_NAMES
from .dataset import Dataset, stratified_split

# TenSEAL is imported here, at the top, but with one deliberate twist. TensorFlow (loaded by
# ``import utils`` above) and TenSEAL both contain the protobuf library. If TenSEAL is loaded after
# TensorFlow with the default symbol lookup, its serialization code binds to TensorFlow's protobuf
# symbols and ``ciphertext.serialize()`` crashes the Python process (a segmentation fault).
# ``RTLD_DEEPBIND`` (Linux) makes TenSEAL prefer its own symbols, so we set it for this one import
# and restore the previous flags at once. Import TenSEAL through this module
# (``from utils.he import ts``), never with a plain ``import tenseal`` before it.
_DLOPEN_FLAGS = sys.getdlopenflags()
sys.setdlopenflags(_DLOPEN_FLAGS | getattr(os, "RTLD_DEEPBIND", 0))
try:
    import tenseal as ts
finally:
    sys.setdlopenflags(_DLOPEN_FLAGS)

__all__ = [
    "ts",
    "DEFAULT_POLY_MODULUS_DEGREE", "DEFAULT_COEFF_MOD_BIT_SIZES", "DEFAULT_SCALE_BITS",
    "make_context", "public_context", "MLPWeights", "mlp_weights", "square_mlp", "square_mlp_from_weights",
    "plaintext_logits", "hidden_unit_importance", "prune_hidden_units", "load_digits_8x8",
    "slot_count", "padded", "encrypted_layer", "encrypt_batch", "rotate_and_sum", "encrypted_dense",
    "encrypted_forward",
    "decrypt_logits",
    "ciphertext_bytes", "EncryptedRun", "encrypted_mlp_predict", "max_batch_size",
]

# CKKS parameters (see make_context for why these).
DEFAULT_POLY_MODULUS_DEGREE = 8192
DEFAULT_COEFF_MOD_BIT_SIZES = (44, 32, 32, 32, 32, 44)
DEFAULT_SCALE_BITS = 32


def make_context(*, poly_modulus_degree=DEFAULT_POLY_MODULUS_DEGREE,
                 coeff_mod_bit_sizes=DEFAULT_COEFF_MOD_BIT_SIZES, scale_bits=DEFAULT_SCALE_BITS, n_threads=1):
    """The data owner's CKKS context: parameters, secret key, public key, Galois and relinearisation keys.

    The defaults fit the network of this module:

    * **Depth.** Every multiplication raises the ciphertext's scale to ``scale²``; *rescaling*
      divides it back by dropping one of the middle primes. Our forward pass needs four levels:
      layer 1 (plaintext × ciphertext), packing the hidden units into one ciphertext (a
      multiplication by a 0/1 mask), the square activation, and layer 2. Hence four middle primes
      of ``scale_bits`` bits each.
    * **Precision.** The scale ``2**32`` keeps about 32 bits of the fraction. The first prime
      (44 bits) must hold the final result: 44 − 32 = 12 bits of integer part, ample for logits.
      The last prime (44 bits) is the *special prime* used when switching keys (rotations,
      relinearisation).
    * **Security.** The total, 44 + 4·32 + 44 = 216 bits, must stay ≤ 218 bits for 128-bit security
      with ``poly_modulus_degree = 8192`` (the Homomorphic Encryption Standard's bound, which SEAL
      enforces: a larger total raises an error). A deeper network needs 16,384, which doubles
      every cost.
    * ``n_threads=1`` so that timings measure work, not how many cores happen to be free.

    Returns:
        a ``tenseal.Context`` *with* the secret key (keep it on the client).
    """
    check_int(scale_bits, "scale_bits", minimum=1)
    check_int(n_threads, "n_threads", minimum=1)
    context = ts.context(ts.SCHEME_TYPE.CKKS, poly_modulus_degree=poly_modulus_degree,
                         coeff_mod_bit_sizes=list(coeff_mod_bit_sizes), n_threads=n_threads)
    context.global_scale = 2 ** scale_bits
    context.generate_galois_keys()  # rotations (used by the matrix products)
    context.generate_relin_keys()   # relinearisation after ciphertext × ciphertext (the square)
    return context


def public_context(context):
    """A copy of ``context`` without the secret key: what the server receives. It can compute, not decrypt."""
    server = context.copy()
    server.make_context_public()
    return server


# ------------------------------------------------------------------ the plaintext model

@dataclass
class MLPWeights:
    """The weights of ``x → x @ w1 + b1 → square → @ w2 + b2``.

    Shapes: ``w1 (d, H)``, ``b1 (H,)``, ``w2 (H, classes)``, ``b2 (classes,)``, all float64.
    """

    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray

    def __post_init__(self):
        self.w1, self.b1, self.w2, self.b2 = (np.asarray(a, dtype=np.float64)
                                              for a in (self.w1, self.b1, self.w2, self.b2))
        d, h = self.w1.shape if self.w1.ndim == 2 else (None, None)
        if (self.w1.ndim != 2 or self.b1.shape != (h,) or self.w2.ndim != 2 or self.w2.shape[0] != h
                or self.b2.shape != (self.w2.shape[1],)):
            raise ValueError("MLPWeights expects w1 (d, H), b1 (H,), w2 (H, classes), b2 (classes,); got "
                             f"{self.w1.shape}, {self.b1.shape}, {self.w2.shape}, {self.b2.shape}")

    @property
    def hidden(self):
        """Number of hidden units ``H``."""
        return self.w1.shape[1]

    @property
    def inputs(self):
        return self.w1.shape[0]

    @property
    def classes(self):
        return self.w2.shape[1]


def _check_weights(weights):
    if not isinstance(weights, MLPWeights):
        raise TypeError("weights must be utils.he.MLPWeights (see mlp_weights), got "
                        f"{type(weights).__name__}")


def square_mlp(hidden, input_dim=64, num_classes=10):
    """A Keras MLP with the square activation: ``Dense(hidden) → x² → Dense(classes) → softmax``.

    The softmax is only for training (it makes the loss the usual cross-entropy); encrypted
    inference stops at the logits and the client applies softmax (or argmax) after decrypting.
    """
    hidden = check_int(hidden, "hidden", minimum=1)
    input_dim = check_int(input_dim, "input_dim", minimum=1)
    num_classes = check_int(num_classes, "num_classes", minimum=1)
    layers = keras.layers
    return keras.Sequential([
        keras.Input(shape=(input_dim,)),
        layers.Dense(hidden, name="hidden"),
        layers.Activation(tf.math.square, name="square"),
        layers.Dense(num_classes, name="logits"),
        layers.Activation("softmax", name="softmax"),
    ], name=f"square_mlp_{hidden}")


def mlp_weights(model):
    """:class:`MLPWeights` of a model built by :func:`square_mlp`."""
    require_model(model)
    try:
        w1, b1 = model.get_layer("hidden").get_weights()
        w2, b2 = model.get_layer("logits").get_weights()
    except ValueError as error:
        raise ValueError("mlp_weights expects a model from utils.he.square_mlp (layers 'hidden' and "
                         f"'logits'): {error}") from error
    return MLPWeights(w1, b1, w2, b2)


def square_mlp_from_weights(weights):
    """A :func:`square_mlp` Keras model holding ``weights`` (e.g. after :func:`prune_hidden_units`)."""
    model = square_mlp(weights.hidden, weights.inputs, weights.classes)
    model.get_layer("hidden").set_weights([weights.w1, weights.b1])
    model.get_layer("logits").set_weights([weights.w2, weights.b2])
    return model


def plaintext_logits(weights, x):
    """The same computation in NumPy (float64): ``((x @ w1 + b1)²) @ w2 + b2``, shape ``(n, classes)``."""
    x = np.asarray(x, dtype=np.float64)
    return ((x @ weights.w1 + weights.b1) ** 2) @ weights.w2 + weights.b2


def hidden_unit_importance(weights):
    """L1 norm of each hidden unit's incoming weights, shape ``(H,)`` (Li et al.'s criterion, ICLR 2017)."""
    return np.abs(weights.w1).sum(axis=0)


def prune_hidden_units(weights, keep):
    """Structured pruning: keep the ``keep`` hidden units of largest L1 norm, as *smaller* matrices.

    Removing hidden unit ``j`` deletes column ``j`` of ``w1``, entry ``j`` of ``b1`` and row ``j`` of
    ``w2``: the network becomes physically narrower (unlike zeroing weights). Fine-tune afterwards.

    Args:
        weights: :class:`MLPWeights`.
        keep: number of hidden units to keep, ``1 <= keep <= H``.

    Returns:
        A new :class:`MLPWeights` with ``keep`` hidden units (kept in their original order).
    """
    _check_weights(weights)
    keep = check_int(keep, "keep", minimum=1, maximum=weights.hidden)  # at most the hidden width
    kept = np.sort(np.argsort(-hidden_unit_importance(weights), kind="stable")[:keep])
    return MLPWeights(weights.w1[:, kept], weights.b1[kept], weights.w2[kept, :], weights.b2)


def load_digits_8x8(seed=0, val_fraction=0.1, test_fraction=0.2):
    """scikit-learn's digits at their original 8×8 resolution, flattened to 64 features in [0, 1].

    Same stratified train / validation / test fractions as ``utils.data.load_dataset("digits")``.
    A small input keeps encrypted inference cheap: layer 1 costs ``log2(64) = 6`` rotations per
    hidden unit.

    Returns:
        a :class:`utils.data.Dataset` with ``x_*`` of shape ``(n, 64)`` (float32) and int64 labels.
    """
    bunch = load_digits()
    x = (bunch.data / 16.0).astype(np.float32)
    y = bunch.target.astype(np.int64)
    parts = stratified_split(x, y, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
    return Dataset(*parts, class_names=DIGIT_NAMES, name="digits_8x8")


# ------------------------------------------------------------------ encrypted inference

def _next_power_of_two(n):
    return 1 << (int(n) - 1).bit_length()


def slot_count(context):
    """Number of CKKS slots of ``context``: half its polynomial modulus degree (4,096 by default)."""
    return context.seal_context().data.key_context_data().parms().poly_modulus_degree() // 2


def max_batch_size(weights, slots=DEFAULT_POLY_MODULUS_DEGREE // 2):
    """How many images fit in one ciphertext: ``slots // max(padded features, padded hidden width)``."""
    return slots // max(_next_power_of_two(weights.inputs), _next_power_of_two(weights.hidden))


def padded(weights):
    """Zero-pad the input and hidden dimensions to powers of two (TenSEAL's packing needs them).

    Rotate-and-sum halves the packed vector at every step, so the number of features it sums must be a
    power of two. Padded inputs and hidden units have zero weights and biases, so they compute exactly 0.

    Returns:
        a new :class:`MLPWeights` with ``w1 (d', H')``, ``b1 (H',)``, ``w2 (H', classes)``, ``b2``.
    """
    _check_weights(weights)
    d, h = _next_power_of_two(weights.inputs), _next_power_of_two(weights.hidden)
    w1 = np.zeros((d, h))
    w1[:weights.inputs, :weights.hidden] = weights.w1
    b1 = np.zeros(h)
    b1[:weights.hidden] = weights.b1
    w2 = np.zeros((h, weights.classes))
    w2[:weights.hidden] = weights.w2
    return MLPWeights(w1, b1, w2, weights.b2)


def encrypted_layer(context, x, weight, bias):
    """Both roles for ONE input vector: ``Enc(x @ weight + bias)``, computed on the ciphertext.

    The client encrypts ``x`` (shape ``(d,)``) into one CKKS vector; the server multiplies it by the
    plaintext ``weight`` ``(d, units)`` with TenSEAL's vector–matrix product (the diagonal method:
    one rotation and one multiplication per input feature) and adds the plaintext ``bias``.

    Returns:
        a ``tenseal.CKKSVector`` of ``units`` encrypted values.
    """
    x = np.asarray(x, dtype=np.float64)
    return ts.ckks_vector(context, x.tolist()).mm(np.asarray(weight, dtype=np.float64).tolist()) \
        + np.asarray(bias, dtype=np.float64).tolist()


def encrypt_batch(context, x):
    """Client side: encrypt a batch ``x`` of shape ``(B, d)`` into ONE ciphertext (feature-major packing).

    Features are zero-padded to a power of two ``d'``; ``B · d'`` must fit in the slots.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"x must be a non-empty batch of shape (B, features), got shape {x.shape}")
    d = _next_power_of_two(x.shape[1])
    if len(x) * d > slot_count(context):
        raise ValueError(f"a batch of {len(x)} images × {d} (padded) features needs {len(x) * d} slots but a "
                         f"ciphertext has {slot_count(context)}; encrypt at most {slot_count(context) // d} "
                         "images at a time")
    padded = np.zeros((len(x), d))
    padded[:, :x.shape[1]] = x
    return ts.enc_matmul_encoding(context, padded)


def rotate_and_sum(slots, column, batch_size):
    """What the server does to a packed batch for ONE output unit, simulated on the plaintext slot vector.

    ``slots`` is a ciphertext's whole slot vector (length ``n``): slot ``j·B + b`` holds feature ``j`` of
    image ``b`` (the layout of :func:`encrypt_batch`, ``d'`` features, ``B = batch_size`` images) and the
    slots from ``d'·B`` on hold zeros. ``column`` (length ``d'``, a power of two) is the unit's plaintext
    weight column.

    1. One slot-wise multiplication by the plaintext ``[W_0]*B + [W_1]*B + … + [0]*(n − d'·B)``.
    2. ``log2 d'`` rotate-and-add steps: rotate by ``d'B/2`` slots and add, then by ``d'B/4``, …, then by
       ``B``. A CKKS rotation by ``s`` is cyclic over all ``n`` slots and brings slot ``i + s`` to slot ``i``
       (``np.roll(v, -s)``).

    Returns ``(slots, rotations)``: the slot vector after the last addition (slot ``b < B`` holds
    ``x_b · column``) and the number of rotations, ``log2 d'``. TenSEAL's ``enc_matmul_plain`` does the same
    on the ciphertext (its first ``B`` slots decrypt to the same values).
    """
    slots = np.asarray(slots, dtype=np.float64).ravel()
    column = np.asarray(column, dtype=np.float64).ravel()
    features, batch = len(column), int(batch_size)
    if features < 1 or features & (features - 1):
        raise ValueError(f"the column must have a power-of-two length (pad it), got {features}")
    if batch < 1 or features * batch > len(slots):
        raise ValueError(f"{features} features × {batch} images need {features * batch} slots, "
                         f"the vector has {len(slots)}")
    plain = np.zeros(len(slots))
    plain[:features * batch] = np.repeat(column, batch)
    result, rotations, shift = slots * plain, 0, features * batch // 2
    while shift >= batch:
        result = result + np.roll(result, -shift)
        rotations, shift = rotations + 1, shift // 2
    return result, rotations


def encrypted_dense(enc_x, weight, bias, batch_size):
    """Server side: ``x @ weight + bias`` for all ``batch_size`` packed rows, one output unit at a time.

    Args:
        enc_x: ciphertext from :func:`encrypt_batch` (or a packed hidden layer).
        weight: plaintext ``(d', units)``; bias: ``(units,)``.

    Returns:
        a list of ``units`` ciphertexts; ciphertext ``k`` holds unit ``k`` for every row in its
        first ``batch_size`` slots. Cost: per unit, one plaintext multiplication and
        ``log2(d')`` rotations — whatever the weights' values, zeros included.
    """
    return [enc_x.enc_matmul_plain(weight[:, k].tolist(), batch_size) + float(bias[k])
            for k in range(weight.shape[1])]


def encrypted_forward(weights, enc_x, batch_size, dense=encrypted_dense):
    """Server side: the whole network on an encrypted batch; returns one ciphertext per class.

    ``pad to powers of two → layer 1 → pack the hidden units into one ciphertext → square → layer 2``.
    Uses only the public context that ``enc_x`` is linked to; the server never decrypts.
    ``dense`` computes each layer (signature of :func:`encrypted_dense`; Lab 06 passes the student's).
    """
    w = padded(weights)
    hidden = ts.CKKSVector.pack_vectors(dense(enc_x, w.w1, w.b1, batch_size))
    hidden.square_()
    return dense(hidden, w.w2, w.b2, batch_size)


def decrypt_logits(enc_outputs, batch_size):
    """Client side: decrypt the per-class ciphertexts into logits of shape ``(batch_size, classes)``."""
    return np.stack([np.asarray(out.decrypt()[:batch_size]) for out in enc_outputs], axis=1)


def ciphertext_bytes(encrypted):
    """Serialized size in bytes of a ciphertext, or of a list of ciphertexts (what travels on the network)."""
    if isinstance(encrypted, (list, tuple)):
        return sum(len(c.serialize()) for c in encrypted)
    return len(encrypted.serialize())


@dataclass
class EncryptedRun:
    """Result of :func:`encrypted_mlp_predict`.

    Attributes:
        logits: decrypted logits ``(n, classes)``.
        server_seconds: wall time the server spent computing (all batches).
        server_cpu_seconds: CPU time of that computation (insensitive to other programs).
        client_seconds: wall time of encryption + decryption on the client.
        n: number of images; batch_size: images per ciphertext.
        input_bytes, output_bytes: serialized ciphertext sizes sent each way (all batches).
    """

    logits: np.ndarray
    server_seconds: float
    server_cpu_seconds: float
    client_seconds: float
    n: int
    batch_size: int
    input_bytes: int
    output_bytes: int

    @property
    def predictions(self):
        return self.logits.argmax(axis=1)

    @property
    def seconds_per_sample(self):
        """Server wall time per image (amortised over the packed batch)."""
        return self.server_seconds / self.n

    @property
    def cpu_seconds_per_sample(self):
        return self.server_cpu_seconds / self.n

    @property
    def bytes_per_sample(self):
        """Ciphertext bytes per image, both directions."""
        return (self.input_bytes + self.output_bytes) / self.n


def encrypted_mlp_predict(weights, x, context, *, batch_size=32, forward=encrypted_forward,
                          dense=encrypted_dense):
    """Encrypted inference of the square-activation MLP, with the client/server round trip made explicit.

    For each batch of ``batch_size`` images: the client encrypts with ``context`` (which holds the
    secret key) and serializes; the server deserializes into :func:`public_context` (no secret
    key), runs :func:`encrypted_forward` and serializes the encrypted logits; the client
    deserializes and decrypts. Bytes and times are measured on the way.

    Args:
        weights: :class:`MLPWeights` (plaintext, the server's).
        x: inputs ``(n, d)`` (the client's).
        context: the client's private context from :func:`make_context`.
        batch_size: images per ciphertext; at most :func:`max_batch_size` ``(weights)``.
        forward, dense: the server's computation, called as ``forward(weights, enc_x, batch_size, dense)``
            (defaults :func:`encrypted_forward` and :func:`encrypted_dense`; Lab 06 passes the student's).

    Returns:
        :class:`EncryptedRun`.
    """
    _check_weights(weights)
    if not context.is_private():
        raise ValueError("context must be the data owner's private context (make_context); the server's "
                         "public copy cannot decrypt")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != weights.inputs:
        raise ValueError(f"x must have shape (n, {weights.inputs}), got {x.shape}")
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    limit = max_batch_size(weights, slot_count(context))
    if batch_size > limit:
        raise ValueError(f"batch_size must be at most {limit} for these weights (the packed batch must fit "
                         f"in {slot_count(context)} slots), got {batch_size}")
    server_context = public_context(context)
    logits, server_wall, server_cpu, client_wall, sent, received = [], 0.0, 0.0, 0.0, 0, 0
    for start in range(0, len(x), batch_size):
        batch = x[start:start + batch_size]
        t = time.perf_counter()
        request = encrypt_batch(context, batch).serialize()                     # client
        client_wall += time.perf_counter() - t
        wall, cpu = time.perf_counter(), time.process_time()
        enc_x = ts.ckks_vector_from(server_context, request)                    # server
        reply = [c.serialize() for c in forward(weights, enc_x, len(batch), dense)]
        server_wall += time.perf_counter() - wall
        server_cpu += time.process_time() - cpu
        t = time.perf_counter()
        outputs = [ts.ckks_vector_from(context, r) for r in reply]              # client
        logits.append(decrypt_logits(outputs, len(batch)))
        client_wall += time.perf_counter() - t
        sent += len(request)
        received += sum(len(r) for r in reply)
    return EncryptedRun(np.concatenate(logits), server_wall, server_cpu, client_wall, len(x), batch_size,
                        sent, received)
