"""Encoders: feature columns -> serialized records (tf.train.Example wire bytes, CSV lines) and framing."""
