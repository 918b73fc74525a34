import sys

from keras_l11.serving.flags import main

sys.exit(main())
