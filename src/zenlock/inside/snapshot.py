"""SQLite's online backup: a consistent copy while the server writes, to the path given."""

import os
import sqlite3
import sys

source = os.environ["ZENML_STORE_URL"].removeprefix("sqlite:///")
sqlite3.connect(source).backup(sqlite3.connect(sys.argv[1]))
