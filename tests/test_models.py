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


@pytest.mark.parametrize("widths", [(), (0,), (16, -2), (2.5,), "16"])
def test_bad_widths_are_rejected(widths):
    with pytest.raises(ValueError, match="positive ints"):
        models.mlp(widths)
