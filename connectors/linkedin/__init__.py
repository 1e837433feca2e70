"""LinkedIn organization pages through the Community Management API (versioned REST): the
organization's posts, comments and replies (``socialActions``), images, counts; edits as
versions; deletions only on a lookup's 404. Access needs LinkedIn's approval of the app."""
