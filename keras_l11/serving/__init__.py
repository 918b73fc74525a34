"""The local TF-Serving-compatible server and its client.

The server speaks TensorFlow Serving's REST and gRPC APIs over the same model
config and version folders; it imports nothing from the topics.
"""
