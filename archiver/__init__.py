"""Records-retention archiver for government social media."""

__version__ = "0.1.0"
