"""Writing items out: JSON Lines of their histories, or WARC records cut from storage."""
