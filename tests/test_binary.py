import numpy as np
import pytest

import utils
from utils import binary, data, models, training

Y = np.array([0, 0, 0, 0, 1, 1, 1, 0, 1, 0])
S = np.array([0.1, 0.2, 0.7, 0.3, 0.9, 0.6, 0.4, 0.05, 0.8, 0.55])


def test_confusion_counts_by_hand():
    assert binary.confusion_at(Y, S, 0.5) == {"tp": 3, "fp": 2, "tn": 4, "fn": 1}
    assert binary.confusion_at(Y, S, 0.0) == {"tp": 4, "fp": 6, "tn": 0, "fn": 0}


def test_recall_precision_sensitivity_specificity():
    assert binary.recall_at(Y, S, 0.5) == pytest.approx(3 / 4)
    assert binary.precision_at(Y, S, 0.5) == pytest.approx(3 / 5)
    assert binary.sensitivity_specificity(Y, S, 0.5) == pytest.approx((3 / 4, 4 / 6))
    assert binary.precision_at(Y, S, 1.0) == 1.0  # nothing flagged: no false alarm


def test_pr_auc_perfect_and_random():
    assert binary.pr_auc(Y, Y.astype(float)) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    y = (rng.random(20000) < 0.02).astype(int)
    assert binary.pr_auc(y, rng.random(20000)) == pytest.approx(0.02, abs=0.01)


@pytest.mark.parametrize("target", [0.25, 0.5, 0.75, 1.0])
def test_threshold_for_recall_is_the_highest_that_reaches_the_target(target):
    threshold = binary.threshold_for_recall(Y, S, target)
    assert binary.recall_at(Y, S, threshold) >= target
    higher = np.nextafter(threshold, 1.0)
    assert binary.recall_at(Y, S, higher) < target


def test_balanced_class_weight_equalises_total_weight():
    y = np.array([0] * 98 + [1] * 2)
    weights = binary.balanced_class_weight(y)
    assert weights[0] * 98 == pytest.approx(weights[1] * 2) == pytest.approx(50)


@pytest.mark.parametrize("y, s, message", [
    (np.array([0, 2]), np.array([0.1, 0.2]), "binary labels"),
    (np.array([0, 1]), np.array([0.1, 1.5]), "probabilities"),
    (np.array([0, 1]), np.array([0.1]), "same length"),
])
def test_bad_labels_or_scores_are_rejected(y, s, message):
    with pytest.raises(ValueError, match=message):
        binary.recall_at(y, s)


def test_float_labels_are_a_type_error():
    with pytest.raises(TypeError, match="integer class labels"):
        binary.recall_at(Y.astype(float), S)


def test_bad_threshold_and_undefined_metrics():
    with pytest.raises(ValueError, match="threshold"):
        binary.recall_at(Y, S, 1.5)
    for wrong_type in ("0.5", True, None):
        with pytest.raises(TypeError, match="threshold"):
            binary.recall_at(Y, S, wrong_type)
    with pytest.raises(ValueError, match="target_recall"):
        binary.threshold_for_recall(Y, S, 0)
    with pytest.raises(TypeError, match="target_recall"):
        binary.threshold_for_recall(Y, S, "0.9")
    with pytest.raises(ValueError, match="no positive"):
        binary.recall_at(np.zeros(3, int), np.zeros(3))
    with pytest.raises(TypeError, match="integer class labels"):
        binary.balanced_class_weight(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="empty"):
        binary.balanced_class_weight(np.array([], dtype=int))


def test_positive_scores_needs_two_outputs(trained_mlp, digits):
    with pytest.raises(ValueError, match="2 outputs"):
        binary.positive_scores(trained_mlp, digits.x_test[:4])


def test_class_weight_moves_a_model_towards_the_rare_class():
    """Weighting the rare class in training raises its recall (the mechanism Lab 10 uses)."""
    cancer = data.load_dataset("breast_cancer")
    keep = (cancer.y_train == 0) | (np.arange(len(cancer.y_train)) % 8 == 0)  # make malignant rare
    rare = data.Dataset(cancer.x_train[keep], cancer.y_train[keep], cancer.x_val, cancer.y_val,
                        cancer.x_test, cancer.y_test, cancer.class_names, "rare")
    recalls = []
    for weight in (None, binary.balanced_class_weight(rare.y_train)):
        utils.set_seed(0)
        model = models.mlp((8,), input_shape=(30,), num_classes=2)
        training.train(model, rare, epochs=3, learning_rate=3e-3, class_weight=weight)
        recalls.append(binary.recall_at(cancer.y_test, binary.positive_scores(model, cancer.x_test)))
    assert recalls[1] > recalls[0]


def test_train_rejects_incomplete_class_weight(digits):
    with pytest.raises(ValueError, match="no weight for the training classes"):
        training.train(models.mlp((4,)), digits, epochs=1, class_weight={0: 1.0})
    with pytest.raises(TypeError, match="class_weight must be a dict"):
        training.train(models.mlp((4,)), digits, epochs=1, class_weight=[1.0] * 10)
