"""Simulated cities: fake platforms driven through simulated time, for the demo and the
completeness benchmark (scenario.py: what happens; platforms.py: to which fake server; run.py:
harvesting it and measuring what the archive caught)."""
