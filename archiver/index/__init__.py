"""The index database: items, versions and evidence derived from the WARC files."""
