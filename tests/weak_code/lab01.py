"""A deliberately weak mask-keeping fine-tuning for Lab 01: it fine-tunes the pruned model with plain
training and never re-applies the masks, so the optimiser revives the pruned weights; the lab must notice."""

LAB = "lab01_weight_pruning.ipynb"
EXERCISE = "1.3"
FUNCTION = "fine_tune_masked"
SOURCE = '''def fine_tune_masked(model, data, *, epochs, batch_size=32, learning_rate=1e-3, augment_shift=0,
                     callbacks=()):
    tuned = pruning.copy_model(model)
    training.train(tuned, data, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                   augment_shift=augment_shift, callbacks=list(callbacks))
    return tuned'''
TURNS = "one-shot + masked fine-tuning: every kernel still within ±0.5 pt of the target sparsity"
