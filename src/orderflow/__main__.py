"""``python -m orderflow`` runs the command line."""

from orderflow.cli import main

main()
