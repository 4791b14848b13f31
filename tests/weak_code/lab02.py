"""A deliberately weak filter surgery for Lab 02: after Flatten it removes the Dense rows as if the maps
were flattened channels-first (Keras flattens channels-last), so dense1 reads the wrong features; shapes
are right and nothing crashes, the lab must notice."""

LAB = "lab02_structural_pruning.ipynb"
EXERCISE = "2.3"
FUNCTION = "remove_filters"
SOURCE = '''def remove_filters(kernel, bias, next_kernel, drop, bn=None):
    new_kernel = np.delete(kernel, drop, axis=-1)
    new_bias = None if bias is None else np.delete(bias, drop)
    new_bn = None if bn is None else [np.delete(w, drop) for w in bn]
    next_kernel = np.asarray(next_kernel)
    if next_kernel.ndim == 4:
        new_next = np.delete(next_kernel, drop, axis=2)
    else:
        channels, n_out = kernel.shape[-1], next_kernel.shape[1]
        grouped = next_kernel.reshape(channels, -1, n_out)      # channels-first: wrong for Keras
        new_next = np.delete(grouped, drop, axis=0).reshape(-1, n_out)
    return new_kernel, new_bias, new_next, new_bn'''
TURNS = ("25 % of the filters removed, before fine-tuning: the lowest-L1 choice costs at most a fifth "
         "of the accuracy that random choices cost")
