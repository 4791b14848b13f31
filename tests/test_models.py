import numpy as np
import pytest

from utils import models


def test_seed_cnn_is_the_documents_architecture():
    model = models.seed_cnn()
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Conv2D", "Flatten",
                     "Dense", "Dense"]
    assert [getattr(layer, "filters", getattr(layer, "units", None)) for layer in model.layers
            if hasattr(layer, "kernel")] == [32, 64, 64, 64, 10]
    assert model.count_params() == 93_322
    assert model.output_shape == (None, 10)


def test_lenet_300_100_parameter_count():
    assert models.lenet_300_100().count_params() == 266_610  # 784·300+300 + 300·100+100 + 100·10+10


def test_lenet5_shapes():
    model = models.lenet5()
    assert model.output_shape == (None, 10)
    assert model.get_layer("conv1").filters == 6 and model.get_layer("conv2").filters == 16


def test_mlp_and_small_cnn_follow_widths():
    assert [layer.units for layer in models.mlp((32, 16)).layers[1:]] == [32, 16, 10]
    cnn = models.small_cnn((8, 12), batch_norm=True)
    assert [cnn.get_layer(f"conv{i}").filters for i in (1, 2)] == [8, 12]
    assert any(type(layer).__name__ == "BatchNormalization" for layer in cnn.layers)
    assert models.small_cnn((8,), input_shape=(32, 32, 3), num_classes=4).output_shape == (None, 4)


@pytest.mark.parametrize("widths, match", [((), "non-empty"), ((0,), r"widths\[0\] must be a positive int"),
                                           ((16, -2), r"widths\[1\] must be a positive int, got -2")])
def test_bad_widths_are_rejected(widths, match):
    with pytest.raises(ValueError, match=match):
        models.mlp(widths)


@pytest.mark.parametrize("widths", [(2.5,), (True,), "16", 16])
def test_widths_that_are_not_ints_are_type_errors(widths):
    with pytest.raises(TypeError, match="widths"):
        models.small_cnn(widths)


@pytest.mark.parametrize("builder", [models.seed_cnn, models.lenet5, models.lenet_300_100])
def test_builders_check_num_classes(builder):
    assert builder(num_classes=3).output_shape == (None, 3)
    with pytest.raises(ValueError, match="num_classes must be a positive int"):
        builder(num_classes=0)
    with pytest.raises(TypeError, match="num_classes must be a positive int"):
        builder(num_classes=3.0)


def test_small_cnn_without_hidden_dense_layer():
    cnn = models.small_cnn((4,), batch_norm=False, dense=0)
    assert [type(layer).__name__ for layer in cnn.layers][-2:] == ["Flatten", "Dense"]
    with pytest.raises(ValueError, match="dense must be a non-negative int"):
        models.small_cnn((4,), dense=-1)


def test_every_builder_ends_in_a_softmax_that_sums_to_one():
    x = np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)
    for model in (models.seed_cnn(), models.lenet5(), models.mlp((8,)), models.small_cnn((4,))):
        np.testing.assert_allclose(model(x).numpy().sum(axis=1), 1.0, rtol=1e-5)


# --- sequence models ------------------------------------------------------------------------------

def test_sequence_models_build_and_name_their_layers():
    transformer = models.tiny_transformer((16, 11), 4, num_heads=2)
    assert transformer.output_shape == (None, 4)
    assert transformer.get_layer("attention").get_config()["num_heads"] == 2
    lstm = models.lstm_classifier((16, 11), 3, units=8)
    assert lstm.output_shape == (None, 3) and lstm.get_layer("lstm").units == 8


def test_sequence_models_reject_bad_arguments():
    with pytest.raises(ValueError, match="input_shape"):
        models.tiny_transformer((28, 28, 1))
    with pytest.raises(TypeError, match=r"input_shape\[0\] must be a positive int"):
        models.lstm_classifier((24.0, 11))
    with pytest.raises(ValueError, match="num_heads must be a positive int"):
        models.tiny_transformer(num_heads=0)
    with pytest.raises(TypeError, match="units must be a positive int"):
        models.lstm_classifier(units="32")


def test_position_embedding_adds_one_learned_vector_per_position():
    layer = models.PositionEmbedding()
    x = np.zeros((2, 5, 3), np.float32)
    out = layer(x).numpy()
    np.testing.assert_array_equal(out[0], out[1])              # the same vectors for every example
    np.testing.assert_array_equal(out[0], layer.positions.numpy())
    assert len(np.unique(out[0].round(6), axis=0)) == 5        # a different vector per position
