"""``python -m sentinel_db.importers {info,csv,bulk,history} ...``: the importer on its own."""

import sys

from sentinel_db.cli.main import main

if __name__ == "__main__":
    main(["import-data", *sys.argv[1:]])
