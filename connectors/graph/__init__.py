"""What Facebook Pages, Instagram business accounts and Threads share: the Meta Graph API.

``connector`` (the harvest skeleton: profile, listing, threads, lookups, cascade records),
``client`` (credentials, version, retries, errors), ``throttle`` (usage headers and throttling
codes, kept apart from endpoint code), ``paging`` (``paging.next`` followed as given), ``errors``
(the error envelope, classified), ``objects`` (values every parser needs), ``fakeserver`` (a
local Graph API for tests, answering with the real shapes).
"""
