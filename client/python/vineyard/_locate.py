"""Where the package finds libvineyard and vineyardd: the one place that
decides it, for _capi (which loads the library) and for
`python3 -m vineyard` (which runs the daemon).

The order, for both: the environment ($VINEYARD_LIBRARY, $VINEYARDD),
then the source tree's build/ directory when the package runs from
client/python, then the directories `make install` recorded in _config.py,
then the system (the dynamic loader's path; $PATH plus the sbin
directories).
"""
import os
import shutil

SONAME = "libvineyard.so.0"
LIBRARY_HINT = ("Build it with `make`, install it (`make install`), or "
                "point VINEYARD_LIBRARY at %s" % SONAME)

_HERE = os.path.dirname(os.path.abspath(__file__))
# client/python/vineyard -> the repository's build/
_TREE_BUILD = os.path.normpath(os.path.join(_HERE, "..", "..", "..",
                                            "build"))


def _config(key):
    try:
        from . import _config
    except ImportError:
        return None
    return getattr(_config, key, None) or None


def library_candidates():
    """Paths (or a bare soname for the loader) to try, in order."""
    env = os.environ.get("VINEYARD_LIBRARY")
    if env:
        return [env]
    out = []
    tree = os.path.join(_TREE_BUILD, SONAME)
    if os.path.exists(tree):
        out.append(tree)
    libdir = _config("LIBDIR")
    if libdir:
        out.append(os.path.join(libdir, SONAME))
    out.append(SONAME)
    return out


def find_vineyardd():
    """The vineyardd executable to run, or None."""
    env = os.environ.get("VINEYARDD")
    if env:
        return env
    tree = os.path.join(_TREE_BUILD, "vineyardd")
    if os.access(tree, os.X_OK):
        return tree
    sbindir = _config("SBINDIR")
    if sbindir:
        p = os.path.join(sbindir, "vineyardd")
        if os.access(p, os.X_OK):
            return p
    path = os.environ.get("PATH", "") + ":/usr/local/sbin:/usr/sbin:/sbin"
    return shutil.which("vineyardd", path=path)
