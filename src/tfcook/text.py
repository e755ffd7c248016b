"""Text helpers for the SST-2 recipes. Imports Keras and TensorFlow, so it is imported on its own:
`import tfcook.text` (also before `keras.models.load_model` on a model that uses it)."""

from __future__ import annotations

import keras
import tensorflow as tf


# Registered so that a saved TextVectorization layer can name it; loading needs this module imported.
@keras.saving.register_keras_serializable(package="tfcook")
def lower_and_split_hyphens(text: tf.Tensor) -> tf.Tensor:
    """Lower-case, and split hyphenated words into their parts and a "-": "sticky-sweet" -> "sticky - sweet".

    A `TextVectorization(standardize=...)` for text that is already tokenized, as SST-2 is: most
    hyphenated compounds of SST-2's validation sentences ("wince-inducing") never occur in its
    training phrases, while their parts do.
    """
    return tf.strings.regex_replace(tf.strings.lower(text), "([a-z])-([a-z])", r"\1 - \2")
