import matplotlib
import numpy as np
import pytest

from utils import adversarial, audit, calibration, metrics, models, privacy, pruning

matplotlib.use("Agg")
FAST = dict(max_examples=64, latency_runs=3, pgd_steps=3)


@pytest.fixture(scope="module")
def pruned_cnn(trained_cnn):
    return pruning.prune_weights(trained_cnn, 0.9, scope="global")


@pytest.fixture(scope="module")
def membership(digits):
    return (digits.x_train[:100], digits.y_train[:100]), (digits.x_val[:100], digits.y_val[:100])


@pytest.fixture(scope="module")
def report(trained_cnn, pruned_cnn, digits, membership):
    recall_of_8 = {"recall of digit 8 (%)": lambda m: 100 * metrics.per_class_accuracy(
        m, digits.x_test, digits.y_test, 10)[8]}
    return audit.security_audit(trained_cnn, pruned_cnn, digits, eps=0.1, membership=membership,
                                extra_metrics=recall_of_8, **FAST)


def test_table_has_every_row_in_order_and_the_change(report, trained_cnn, pruned_cnn, digits):
    table = report.table()
    assert list(table.columns) == ["dense", "pruned", "change"]
    assert list(table.index) == ["clean accuracy (%)", "worst-class accuracy (%)", "ECE", "membership AUC",
                                 "FGSM accuracy (%)", "PGD accuracy (%)", "recall of digit 8 (%)",
                                 "non-zero parameters", "gzipped size (KiB)", "median latency (ms)"]
    # the change column against values measured here, independently of the report
    accuracy_change = 100 * (metrics.accuracy(pruned_cnn, digits.x_test, digits.y_test)
                             - metrics.accuracy(trained_cnn, digits.x_test, digits.y_test))
    assert table.loc["clean accuracy (%)", "change"] == pytest.approx(accuracy_change)
    removed = metrics.count_params(trained_cnn, nonzero=True) - metrics.count_params(pruned_cnn, nonzero=True)
    assert table.loc["non-zero parameters", "change"] == -removed < 0


def _attack_subset(digits, n=FAST["max_examples"], seed=0):
    chosen = np.sort(np.random.default_rng(seed).choice(len(digits.y_test), n, replace=False))
    return digits.x_test[chosen], digits.y_test[chosen]


def test_values_agree_with_the_metrics_they_come_from(report, trained_cnn, pruned_cnn, digits, membership):
    x_attack, y_attack = _attack_subset(digits)
    for model, which in ((trained_cnn, "reference"), (pruned_cnn, "candidate")):
        expected = 100 * metrics.accuracy(model, digits.x_test, digits.y_test)
        assert report.value("clean accuracy (%)", which) == pytest.approx(expected)
        assert report.value("non-zero parameters", which) == metrics.count_params(model, nonzero=True)
        assert report.value("ECE", which) == pytest.approx(
            calibration.expected_calibration_error(model, digits.x_test, digits.y_test))
        assert report.value("membership AUC", which) == pytest.approx(
            privacy.membership_inference(model, *membership).auc)
        assert report.value("FGSM accuracy (%)", which) == pytest.approx(
            100 * adversarial.robust_accuracy(model, x_attack, y_attack, "fgsm", 0.1))
        assert report.value("gzipped size (KiB)", which) == pytest.approx(metrics.gzipped_size(model) / 1024)
    assert report.value("non-zero parameters") < 0.2 * report.value("non-zero parameters", "reference")
    assert report.value("gzipped size (KiB)") < report.value("gzipped size (KiB)", "reference")
    assert report.settings["attack examples"] == FAST["max_examples"]
    for model, which in ((trained_cnn, "reference"), (pruned_cnn, "candidate")):
        clean_on_subset = 100 * metrics.accuracy(model, x_attack, y_attack)
        assert report.value("PGD accuracy (%)", which) < clean_on_subset


def test_worst_class_is_the_class_with_the_largest_drop(report, trained_cnn, pruned_cnn, digits):
    before = metrics.per_class_accuracy(trained_cnn, digits.x_test, digits.y_test, 10)
    after = metrics.per_class_accuracy(pruned_cnn, digits.x_test, digits.y_test, 10)
    assert report.worst_class == digits.class_names[int(np.argmax(before - after))]
    assert report.value("worst-class accuracy (%)", "reference") - report.value("worst-class accuracy (%)") \
        == pytest.approx(100 * np.max(before - after))


def test_identical_models_change_nothing_but_latency(trained_cnn, digits):
    same = audit.security_audit(trained_cnn, trained_cnn, (digits.x_test, digits.y_test), attacks=("fgsm",),
                                names=("a", "b"), **FAST)
    table = same.table().drop(index="median latency (ms)")
    np.testing.assert_allclose(table["change"], 0.0, atol=1e-9)
    assert "PGD accuracy (%)" not in same.rows and "membership AUC" not in same.rows


def test_tabular_audit_without_attacks():
    x = np.random.default_rng(0).normal(size=(40, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = models.mlp((4,), input_shape=(5,), num_classes=2)
    result = audit.security_audit(model, model, (x, y), attacks=(), latency_runs=2, names=("m", "m2"))
    assert "FGSM accuracy (%)" not in result.rows and "PGD accuracy (%)" not in result.rows
    assert result.worst_class == "0"   # no class dropped: the first of the tied classes


def test_plot_has_one_panel_per_metric(report):
    figure = report.plot()
    visible = [ax for ax in figure.axes if ax.get_visible()]
    titles = [ax.get_title() for ax in visible]
    assert titles[0] == "clean accuracy (%)" and len(titles) == len(report.rows)
    assert titles[1] == f"worst-class accuracy (%): class {report.worst_class}"
    assert figure._suptitle.get_text().startswith("Security audit")


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(attacks="fgsm"), TypeError, "tuple of names"),
    (dict(attacks=("cw",)), ValueError, "tuple of names"),
    (dict(eps=0), ValueError, "eps"),
    (dict(eps=1.5), ValueError, "eps"),
    (dict(eps="0.1"), TypeError, "eps"),
    (dict(names=("x", "x")), ValueError, "two different"),
    (dict(names="xy"), TypeError, "two different"),
    (dict(membership=([1, 2],)), TypeError, "members, non_members"),
    (dict(extra_metrics={"r": 3}), TypeError, "extra_metrics"),
    (dict(max_examples=0), ValueError, "max_examples"),
    (dict(max_examples=10.0), TypeError, "max_examples"),
    (dict(from_logits="yes"), TypeError, "from_logits"),
    (dict(from_logits=(True, False, True)), TypeError, "from_logits"),
])
def test_bad_options_raise_clear_errors(trained_cnn, digits, kwargs, error, message):
    with pytest.raises(error, match=message):
        audit.security_audit(trained_cnn, trained_cnn, digits, **kwargs)


def test_bad_data_and_mismatched_models(trained_cnn, digits):
    with pytest.raises(TypeError, match="Dataset"):
        audit.security_audit(trained_cnn, trained_cnn, digits.x_test)
    with pytest.raises(TypeError, match="integer class labels"):
        audit.security_audit(trained_cnn, trained_cnn, (digits.x_test, digits.y_test.astype(float)))
    with pytest.raises(ValueError, match="same length"):
        audit.security_audit(trained_cnn, trained_cnn, (digits.x_test, digits.y_test[:-1]))
    other = models.seed_cnn(num_classes=3)
    with pytest.raises(ValueError, match="same classes"):
        audit.security_audit(trained_cnn, other, digits)
    with pytest.raises(KeyError, match="no row"):
        audit.AuditReport(("a", "b"), {"ECE": (0.1, 0.2)}).value("PGD accuracy (%)")


# ------------------------------------------------------------ per-class and binary helpers (Labs 09, 10)
def test_recall_per_class_matches_the_definition():
    y_true = np.array([0, 0, 1, 1, 1, 2])
    y_pred = np.array([0, 1, 1, 1, 0, 0])
    recall = audit.recall_per_class(y_true, y_pred, 4)
    assert np.allclose(recall[:3], [0.5, 2 / 3, 0.0]) and np.isnan(recall[3])
    with pytest.raises(ValueError, match="same length|length"):
        audit.recall_per_class(y_true, y_pred[:3], 4)


def test_precision_recall_at_and_precision_at_recall():
    y = np.array([1, 0, 1, 0, 0, 0, 1, 0, 1, 0])
    s = np.array([0.95, 0.9, 0.8, 0.8, 0.6, 0.55, 0.5, 0.4, 0.3, 0.1])
    assert audit.precision_recall_at(y, s, 0.8) == (0.5, 0.5)
    assert audit.precision_recall_at(y, s, 0.99) == (1.0, 0.0)
    assert audit.precision_at_recall(y, s, 0.5) == 0.5          # ties at the threshold are flagged
    assert np.isclose(audit.precision_at_recall(y, s, 0.6), 3 / 7)
    assert np.isclose(audit.precision_at_recall(y, s, 1.0), 4 / 9)
    precision, recall = audit.precision_recall_at(y, s, 0.5)
    assert recall >= 0.6 and np.isclose(precision, audit.precision_at_recall(y, s, 0.6))
    with pytest.raises(ValueError, match="positive"):
        audit.precision_at_recall(np.zeros(4, int), np.ones(4), 0.5)


def test_attack_data_is_the_attacked_subset(trained_cnn, pruned_cnn, digits):
    x, y = digits.x_test[10:40], digits.y_test[10:40]
    report = audit.security_audit(trained_cnn, pruned_cnn, digits, attacks=("fgsm",), latency_runs=3,
                                  attack_data=(x, y), max_examples=5)
    assert report.settings["attack examples"] == 30
    expected = 100 * adversarial.robust_accuracy(trained_cnn, x, y, "fgsm", 0.1)
    assert np.isclose(report.value("FGSM accuracy (%)", "reference"), expected)
