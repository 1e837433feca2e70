"""The clerks' and lawyers' web app, served by ``archiver serve`` beside the webhooks.

``users`` (accounts, roles, argon2 passwords) and ``sessions`` are plain domain code that the
``archiver users`` command shares; ``app`` builds the Flask app; the view modules only parse,
authorise and render, calling the same domain functions as the CLI.
"""
