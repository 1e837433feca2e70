"""RSS 2.0 and Atom feeds: agency news, blogs, YouTube channel feeds (connector in client.py)."""
