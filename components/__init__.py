"""One ComponentResource per file: the building blocks __main__.py composes."""
