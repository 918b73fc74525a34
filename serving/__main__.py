import sys

from keras_l11.serving.server import main

sys.exit(main())
