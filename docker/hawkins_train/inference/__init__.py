"""The endpoint and batch-transform handlers, one module per model kind.

Each module follows the SageMaker inference handler contract (model_fn, input_fn, predict_fn,
output_fn) and imports nothing from the rest of this package, because the trainers also copy it
into the model as code/inference.py.
"""

# hawkins.json "kind" -> handler module.
MODULE_BY_KIND = {"chatbot": "chatbot", "location": "classifier", "theme": "theme"}
