"""Bluesky through the public AppView: the account's posts and reposts (``getAuthorFeed``),
replies at any depth (``getPostThread``) with threadgate-hidden replies as hidden, images and
external cards as media, the handle resolved to its DID once; deletions only on a lookup's
``NotFound``."""
