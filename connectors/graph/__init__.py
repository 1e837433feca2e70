"""What Facebook Pages and Instagram business accounts share: the Meta Graph API.

``client`` (credentials, version, retries, errors), ``throttle`` (usage headers and throttling
codes, kept apart from endpoint code), ``paging`` (``paging.next`` followed as given), ``errors``
(the error envelope, classified), ``objects`` (values every parser needs), ``fakeserver`` (a
local Graph API for tests, answering with the real shapes).
"""
