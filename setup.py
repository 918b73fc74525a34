"""keras_l11: the models of "Beyond image classification" as a Keras 3 library."""

from setuptools import find_packages, setup

DOCS = ["mkdocs>=1.6,<2", "mkdocs-material>=9.5", "mkdocstrings-python>=1.10"]

setup(
    name="keras_l11",
    version="0.1.0",
    description="Keras 3 / TensorFlow models of the lecture 'Beyond image classification': "
    "train under tf.distribute, export SavedModels, serve with TensorFlow Serving.",
    long_description=open("README.md").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["keras_l11", "keras_l11.*"]),  # only keras_l11 in site-packages
    package_data={"keras_l11.web": ["pages/*"]},
    install_requires=[
        # The known-good set: the plain tensorflow wheel, never tensorflow-cpu beside it.
        "tensorflow==2.20.*",
        "keras>=3.10,<4",
        "tensorflow-probability==0.25.*",
        "tf-models-official==2.20.*",
        "tensorflow-datasets>=4.9",
        "importlib_resources>=6",  # TFDS 4.9 needs it to prepare a data set (`tfds build`) and does not require it
        "tensorflow-serving-api==2.20.*",
        "grpcio-health-checking>=1.60",  # the standard gRPC health service (--enable_grpc_healthcheck_service)
        # Data preparation (proposals, optical flow) as Beam pipelines; Beam needs protobuf < 7,
        # which holds grpcio-health-checking at 1.81 and pillow at 12.
        "apache-beam>=2.77,<3",
        "numpy>=1.26",
        "matplotlib>=3.8",
        "gensim>=4.3",  # ships the Wikipedia XML excerpt the char-level LM trains on offline
        "pysword>=0.2.8",  # reads the Debian Bible modules (translation pairs)
        "sacrebleu>=2.4",
        "hershey-fonts>=2.1",  # cursive vector fonts: synthetic online handwriting with transcripts
        "pycocotools>=2.0",  # COCO-style detection mAP, the reference ours is tested against
        "scikit-image>=0.22",  # ships the Middlebury stereo pair with ground-truth disparity
        "pycocoevalcap>=1.2",  # the COCO caption evaluation code: BLEU, CIDEr, ROUGE-L
        "ribs>=0.12,<0.13",  # pyribs: MAP-Elites' archive for the fooling images
        "scipy>=1.11",  # L-BFGS-B for the box-constrained adversarial attack; SBD's .mat masks
        "scikit-learn>=1.4",  # liblinear, the SVM solver of R-CNN's classifier stage
    ],
    extras_require={
        # playwright drives Debian's chromium; the docs site is built strictly in CI. ruff is
        # held to one minor version: a new one adds rules, and CI runs `ruff check`.
        "test": ["pytest>=8", "ruff>=0.17.6,<0.18", "pyyaml>=6", "playwright>=1.40", *DOCS],
        "docs": DOCS,
    },
)
