"""The `--site-packages` option of the corpus builders that read the peers' installed
packages: by default the environment ../shared/peers/setup.sh makes ($PEERS_VENV or
~/.cache/folio-peers-venv)."""
import glob
import os
import sys


def add_argument(parser):
    venv = os.environ.get("PEERS_VENV", os.path.expanduser("~/.cache/folio-peers-venv"))
    default = next(iter(glob.glob(os.path.join(venv, "lib/python3*/site-packages"))), None)
    parser.add_argument("--site-packages", default=default)


def checked(path):
    """`path`, or the script ends with the line that says how to get one."""
    if not path or not os.path.isdir(path):
        sys.exit("no site-packages folder: run ../shared/peers/setup.sh or give --site-packages")
    return path
