"""``python -m graphsci`` runs the command line."""
import sys

from graphsci.cli import main

sys.exit(main())
