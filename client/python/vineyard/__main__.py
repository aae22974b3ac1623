"""python3 -m vineyard [--socket PATH] [vineyardd options]: runs vineyardd
in the foreground (Ctrl-C stops it).

The daemon is found as vineyard._locate says ($VINEYARDD first).
The process becomes vineyardd (exec), so signals reach it directly.
"""
import os
import sys

from ._locate import find_vineyardd


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
