"""``python -m sentinel_db`` runs the CLI."""

from sentinel_db.cli import main

if __name__ == "__main__":
    main()
