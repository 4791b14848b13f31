"""The machinery shared by every lab's self-checks: a report that prints ✔ / ✘ lines."""

import functools


class Report:
    """Collects the findings of one self-check and prints them."""

    def __init__(self, title):
        self.title = title
        self.failures = 0

    def ok(self, message):
        print(f"✔ {message}")

    def fail(self, message):
        self.failures += 1
        print(f"✘ {message}")

    def check(self, condition, good, bad):
        (self.ok if condition else self.fail)(good if condition else bad)
        return condition

    def summary(self):
        if self.failures:
            print(f"→ {self.title}: {self.failures} problem(s) above; fix them and run this cell again.")
        else:
            print(f"→ {self.title}: all checks passed. Well done!")
        return self.failures == 0


def verdict(ok, text):
    """Print one verdict line of a lab: ``✔ text`` if the target ``text`` is met, else ``✘ NOT MET: text``.

    Verdict cells compare a lab's measured results with its targets; the hygiene test and nbval
    compare their printed lines, so ``text`` states the target, not the measured number.
    """
    print(("✔ " if ok else "✘ NOT MET: ") + text)


def self_check(title):
    """Decorator: turn ``NotImplementedError`` and crashes into friendly messages."""

    def decorate(check):
        @functools.wraps(check)
        def run(student_fn, *args, **kwargs):
            report = Report(title)
            try:
                check(report, student_fn, *args, **kwargs)
            except NotImplementedError:
                print(f"⏳ {title}: not done yet — replace the `raise NotImplementedError(...)` line "
                      "with your code, run that cell, then this one. The lab continues with the "
                      "reference implementation from `utils`.")
                return None
            except Exception as error:  # the student's code crashed: say where, not a traceback
                report.fail(f"your function raised {type(error).__name__}: {error}")
            report.summary()

        return run

    return decorate
