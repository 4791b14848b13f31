"""Self-checks for the labs' exercises: ``from utils import checks as check``.

Each ``check.exercise_N_M(student_function, ...)`` runs the student's function on small
cases with known answers and prints one line per finding: ``✔`` when right, ``✘`` with
what is wrong and how to fix it. A stub that still raises ``NotImplementedError`` gets a
gentle reminder instead of a traceback, so an unfinished exercise never stops the rest
of the lab. Nothing is returned, so a notebook shows only these lines; a check that passes
records the student's function, and ``check.use("1.1", student_fn, reference)`` then returns it,
so the rest of the lab runs the student's code (or the reference while the exercise is unfinished).

One module per lab (``lab01.py``, ``lab02.py``, …); the shared machinery is in ``_core.py``.
``check.verdict(ok, text)`` prints one line of a lab's verdict cells and ``check.challenge(...)``
the closing challenge's score; the verdicts' conditions are functions in ``labNN.py``.
"""

from . import lab01, lab02, lab03, lab04, lab05, lab06, lab07, lab08, lab09, lab10, lab11, lab12
from ._core import accept, challenge, passed, use, verdict

LABS = (lab01, lab02, lab03, lab04, lab05, lab06, lab07, lab08, lab09, lab10, lab11, lab12)

# Every lab module lists its self-checks (``exercise_N_M``) in ``__all__``; they are exported here,
# so a lab calls ``check.exercise_1_1(...)`` and its verdict functions as ``check.lab01.<name>(...)``.
for _lab in LABS:
    globals().update({name: getattr(_lab, name) for name in _lab.__all__})

__all__ = ["verdict", "challenge", "use", "passed", "accept", "LABS",
           *(name for lab in LABS for name in lab.__all__)]
