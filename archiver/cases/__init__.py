"""Records requests and legal productions: cases built from searches, kept in the index."""
