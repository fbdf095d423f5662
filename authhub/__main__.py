"""``python -m authhub`` runs the command line."""

from authhub.cli import main

main()
