"""Instagram business and creator accounts through the Graph API: media (carousel children
included), comments and replies with their hidden flag, the account's profile."""
