"""The parts every lab notebook shares, kept in one place.

``SETUP_CELL`` is the source of the setup cell (design §5, step 3). The hygiene test
checks that every notebook's setup cell is exactly this text (with the repository
address of ``_config.yml``, which ``make_labs.py`` writes in). Copy it when you start
a new lab.
"""

SETUP_CELL = '''# Setup — run this cell first. Locally it finds the course's `utils` package;
# on Colab it clones the course and installs only what Colab lacks.
import os, subprocess, sys

REPO_URL = "https://github.com/pruning-course/pruning-security-course.git"  # set in _config.yml
if "google.colab" in sys.modules:
    from importlib.metadata import version
    tf_minor = ".".join(version("tensorflow").split(".")[:2])  # tf-keras must match TensorFlow
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"tf-keras=={tf_minor}.*",
                    "tensorflow-model-optimization==0.8.1"], check=True)
    if not os.path.isdir("course"):
        subprocess.run(["git", "clone", "--depth", "1", REPO_URL, "course"], check=True)
    sys.path.insert(0, os.path.abspath("course"))
else:
    sys.path.insert(0, os.path.abspath(".."))  # the repository root, above labs/ and solutions/

import utils  # sets TF_USE_LEGACY_KERAS=1 before TensorFlow loads (tfmot needs Keras 2)

utils.set_seed(0)'''
