"""A deliberately weak conversion for Lab 12: it calls the converter but forgets the quantization
(no optimisation, no representative dataset), so the "int8" file still stores float32 weights; the lab
must notice in the size verdict."""

LAB = "lab12_deployment.ipynb"
EXERCISE = "12.2"
FUNCTION = "to_int8_tflite"
SOURCE = '''def to_int8_tflite(model, calibration_x):
    converter = utils.tf.lite.TFLiteConverter.from_keras_model(model)
    return converter.convert()'''
TURNS = "pruned int8 .tflite ≤ 1/10 of the dense float32 .tflite (both gzipped)"
