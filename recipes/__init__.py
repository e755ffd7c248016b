"""The recipes: one self-contained module each. The runner discovers every module here."""
