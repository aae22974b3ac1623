"""setuptools glue for pyproject.toml: the package's version is the
Makefile's VERSION line, the one place the project sets it."""
import os
import re

from setuptools import setup

HERE = os.path.dirname(os.path.abspath(__file__))


def version():
    makefile = os.path.join(HERE, "..", "..", "Makefile")
    with open(makefile) as f:
        for line in f:
            m = re.match(r"VERSION\s*=\s*(\S+)\s*$", line)
            if m:
                return m.group(1)
    raise SystemExit("setup.py: no VERSION line in %s" % makefile)


setup(version=version())
