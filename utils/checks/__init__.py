"""Self-checks for the labs' exercises: ``from utils import checks as check``.

Each ``check.exercise_N_M(student_function, ...)`` runs the student's function on small
cases with known answers and prints one line per finding: ``✔`` when right, ``✘`` with
what is wrong and how to fix it. A stub that still raises ``NotImplementedError`` gets a
gentle reminder instead of a traceback, so an unfinished exercise never stops the rest
of the lab. Nothing is returned, so a notebook shows only these lines.

One module per lab (``lab01.py``, ``lab02.py``, …); the shared machinery is in ``_core.py``.
``check.verdict(ok, text)`` prints one line of a lab's verdict cells.
"""

from ._core import verdict
from .lab01 import exercise_1_1, exercise_1_2, exercise_1_3
from .lab02 import exercise_2_1, exercise_2_2
from .lab03 import exercise_3_1, exercise_3_2, exercise_3_3
from .lab04 import exercise_4_1, exercise_4_2, exercise_4_3, exercise_4_4
from .lab05 import exercise_5_1, exercise_5_2, exercise_5_3
from .lab06 import exercise_6_1
from .lab07 import exercise_7_1
from .lab08 import exercise_8_1
from .lab09 import exercise_9_1, exercise_9_2
from .lab10 import exercise_10_1, exercise_10_2, exercise_10_3
from .lab11 import exercise_11_1, exercise_11_2, exercise_11_3
from .lab12 import exercise_12_1, exercise_12_2, exercise_12_3

__all__ = [
    "verdict",
    "exercise_1_1", "exercise_1_2", "exercise_1_3",
    "exercise_2_1", "exercise_2_2",
    "exercise_3_1", "exercise_3_2", "exercise_3_3",
    "exercise_4_1", "exercise_4_2", "exercise_4_3", "exercise_4_4",
    "exercise_5_1", "exercise_5_2", "exercise_5_3",
    "exercise_6_1",
    "exercise_7_1", "exercise_8_1",
    "exercise_9_1", "exercise_9_2",
    "exercise_10_1", "exercise_10_2", "exercise_10_3",
    "exercise_11_1", "exercise_11_2", "exercise_11_3",
    "exercise_12_1", "exercise_12_2", "exercise_12_3",
]
