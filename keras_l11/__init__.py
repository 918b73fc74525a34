"""keras_l11: the models of the lecture "Beyond image classification" in Keras 3.

One package per lecture topic, each exporting its public classes:
`keras_l11.ntm`, `language`, `handwriting`, `detection`, `dense`, `video`,
`captioning`, `generative`, `robustness`. Shared kernel: `keras_l11.training` (the
harness every job uses), `keras_l11.serving` (the local TF-Serving-compatible server
and its client), and `layers`, `ops`, `data` for what several topics use.
"""

from keras_l11 import command_line

__version__ = "0.1.0"

command_line.quiet_command_line()
