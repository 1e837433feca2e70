"""Threads (Meta) through the Threads API (``graph.threads.net``, Graph's errors and paging):
the account's threads with carousel children, quotes and reposts, replies at any depth with
their hide status, insights counts as metrics; deletions confirmed by lookups."""
