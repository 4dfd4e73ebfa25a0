"""The `votakvot` command line: a thin layer over the loading API, imported only by the console
script and `python -m votakvot` (never by `import votakvot`)."""
