"""A deliberately weak Fine-Pruning loop for Lab 08: it applies the stopping rule but never fine-tunes, so
the pruning alone at the rule's modest ratio leaves the backdoor in place and fine-tuning alone beats it; the
lab must notice."""
LAB = "lab08_backdoor_defensive_pruning.ipynb"
EXERCISE = "8.3"
FUNCTION = "fine_prune"
SOURCE = '''def fine_prune(model, x_val, y_val, layer, max_drop, step, fine_tune):
    channels = model.get_layer(layer).filters
    order = dormant_channels_impl(model, x_val, layer, (channels - 1) / channels)
    base = metrics.accuracy(model, x_val, y_val)
    keep = 0
    for count in range(step, channels, step):
        pruned = backdoor.remove_channels(model, layer, order[:count])
        if base - metrics.accuracy(pruned, x_val, y_val) > max_drop:
            break
        keep = count
    return backdoor.remove_channels(model, layer, order[:keep]), order[:keep]   # weak: never fine-tunes'''
TURNS = ("pruning + fine-tuning beats fine-tuning alone: the three pruned arms (dormant, random, "
         "most active) leave a lower mean attack success rate (paired seeds, beyond the noise)")
