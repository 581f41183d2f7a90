"""The reproduction report's sections, one module per group of claims (``tools/reproduction.py`` assembles them)."""
