"""python3 -m vineyard [--socket PATH] [vineyardd options]: runs vineyardd
in the foreground (Ctrl-C stops it).

The daemon is found through $VINEYARDD, else the source tree's build/
directory, else the sbin directory `make install` recorded, else PATH.
The process becomes vineyardd (exec), so signals reach it directly.
"""
import os
import shutil
import sys


def find_vineyardd():
    env = os.environ.get("VINEYARDD")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    tree = os.path.normpath(os.path.join(here, "..", "..", "..", "build",
                                         "vineyardd"))
    if os.access(tree, os.X_OK):
        return tree
    try:
        from . import _config
        p = os.path.join(getattr(_config, "SBINDIR", "") or "", "vineyardd")
        if os.access(p, os.X_OK):
            return p
    except ImportError:
        pass
    path = os.environ.get("PATH", "") + ":/usr/local/sbin:/usr/sbin:/sbin"
    return shutil.which("vineyardd", path=path)


def main(argv):
    if any(a in ("-h", "--help") for a in argv):
        print("usage: python3 -m vineyard [--socket PATH] [vineyardd "
              "options]\n\nRuns vineyardd in the foreground; Ctrl-C stops "
              "it. Its options:\n", flush=True)
    exe = find_vineyardd()
    if not exe:
        sys.stderr.write("vineyard: cannot find vineyardd; build it with "
                         "`make`, install it, or point VINEYARDD at it\n")
        return 127
    args = [exe]
    if not any(a in ("-f", "--foreground") for a in argv):
        args.append("--foreground")
    args.extend(argv)
    try:
        os.execv(exe, args)
    except OSError as e:
        sys.stderr.write("vineyard: cannot run %s: %s\n" % (exe, e))
        return 126


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
