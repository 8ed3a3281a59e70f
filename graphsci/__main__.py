"""``python -m graphsci`` runs the command line."""
from graphsci.cli import run

run()
