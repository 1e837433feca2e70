"""Facebook Pages through the Graph API: posts (own and visitors'), comments and replies at any
depth, hidden flags, attachments, counts, the Page's profile; deletions confirmed by lookups;
webhook deliveries parsed as evidence."""
