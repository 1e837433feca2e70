"""Mastodon (any instance, API v1): the account's statuses with ``Link``-header paging, replies
through each status's context, every past edit from ``/history`` as its own version, media and
polls; deletions only on a direct lookup's 404."""
