"""tf.data pipelines: real data sets and the offline ones the project generates."""
