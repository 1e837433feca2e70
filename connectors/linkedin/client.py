"""The LinkedIn connector: an organization page's posts newest first, their counts, images,
comments and replies, through the Community Management API (``https://api.linkedin.com/rest``,
``LinkedIn-Version: YYYYMM`` and ``X-Restli-Protocol-Version: 2.0.0`` on every call).

Calls: one posts call per ``page_size`` posts; per page, one ``socialMetadata`` batch (counts,
and which posts have comments) and one ``images`` batch (download URLs of the page's images);
one comments call per ``page_size`` comments of each post with comments, and the same for each
comment with replies. LinkedIn announces no budget: a 429 is waited out (``Retry-After`` or a
doubling backoff).

Access is not automatic: see ``ACCESS`` (printed by ``archiver check-config``). Without it every
call answers 403; the harvest stops with cause "permission" naming what to request, and
``archiver coverage`` shows the gap.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from pydantic import Field

from connectors.base import CapturedResponse, HarvestContext, ItemRef, Observation, Page, VersionState
from connectors.cascade import cascade
from connectors.graph.objects import graph_time
from connectors.linkedin import parser
from connectors.linkedin.paging import OffsetListing
from connectors.ratelimit import RateLimitOptions
from connectors.rest import RestClient, RestConnector, RestError, body_json

if TYPE_CHECKING:
    from archiver.config import AccountConfig

API = "https://api.linkedin.com"
ACCESS = (
    "LinkedIn: the agency's app (linkedin.com/developers) needs the \"Community Management API\" product "
    "(request it on the app's Products tab: Development tier first, Standard tier after LinkedIn's review; "
    "the app must be verified by a super admin of the organization's Page), and the token must carry the "
    "r_organization_social scope, issued by a member holding the ADMINISTRATOR, CONTENT_ADMIN or "
    "DIRECT_SPONSORED_CONTENT_POSTER role on organization {org} (3-legged OAuth; tokens last 60 days)"
)


class LinkedInOptions(RateLimitOptions):
    api_version: str = Field("202610", pattern=r"^\d{6}$")  # LinkedIn-Version, YYYYMM (each lives about a year)
    page_size: int = Field(50, ge=1, le=100)  # posts or comments per call


def organization(account_id: str) -> str:
    """
    >>> organization("5515715"), organization("urn:li:organization:5515715")
    ('urn:li:organization:5515715', 'urn:li:organization:5515715')
    """
    return account_id if account_id.startswith("urn:li:organization:") else f"urn:li:organization:{account_id}"


def batch(urns: list[str]) -> str:
    """A Rest.li 2.0 list of URNs for ``ids=`` (each URN encoded, the list syntax kept)."""
    return f"List({','.join(quote(u, safe='') for u in urns)})"


def classify(response: CapturedResponse) -> RestError:
    body = body_json(response)
    code = body.get("code") if isinstance(body, dict) and isinstance(body.get("code"), str) else ""
    said = body.get("message") if isinstance(body, dict) and isinstance(body.get("message"), str) else ""
    status = response.status
    if status == 401:
        return RestError("token", f"the access token was refused ({code or 'unauthorized'}: {said}); a Page "
                                  "administrator must authorize the app again and the new token go in token_env")
    if status == 403:
        return RestError("permission", f"LinkedIn refused access ({code or 'forbidden'}: {said}); "
                                       + ACCESS.format(org="the account's id"))
    if status == 426 or code in ("NONEXISTENT_VERSION", "VERSION_MISSING"):
        return RestError("platform", f"{said or 'the API version is not active'}; set api_version to a current "
                                     "YYYYMM LinkedIn-Version")
    if status in parser.GONE:
        return RestError("missing", f"not found ({said}); check the organization id")
    return RestError("outage" if status >= 500 else "platform", f"{code or 'error'}: {said}")


class LinkedInConnector(RestConnector):
    platform = "linkedin"
    options_model = LinkedInOptions
    def __init__(self) -> None:
        super().__init__()
        self._commented: dict[str, int] = {}  # post → comment count, from the page's socialMetadata

    @classmethod
    def check_account(cls, account: AccountConfig) -> list[str]:
        problems = super().check_account(account)
        if not organization(account.id).removeprefix("urn:li:organization:").isdigit():
            problems.append(f"id: {account.id!r} is not an organization id; give the Page's numeric id (in the "
                            "Page admin view's URL: linkedin.com/company/ID/admin)")
        if account.token_env is None:
            problems.append("token_env: missing; name the environment variable holding the LinkedIn access token")
        return problems

    @classmethod
    def access(cls, account: AccountConfig) -> list[str]:
        return [ACCESS.format(org=organization(account.id))]

    @classmethod
    def parse(cls, response: CapturedResponse) -> list[Observation]:
        return parser.parse(response)

    def client(self, context: HarvestContext) -> RestClient:
        if self._client is None:
            options = context.options
            assert isinstance(options, LinkedInOptions)
            token = context.account.secret("token_env")
            headers = {"Authorization": f"Bearer {token}", "LinkedIn-Version": options.api_version,
                       "X-Restli-Protocol-Version": "2.0.0"}
            limiter = options.limiter("", context.wait, context.pause, context.windows)
            self._client = RestClient(context, f"{context.account.base_url or API}/rest", headers, limiter, classify,
                                      "LinkedIn API")
        return self._client

    def _size(self, context: HarvestContext) -> int:
        return context.options.page_size if isinstance(context.options, LinkedInOptions) else 50

    def harvest(self, context: HarvestContext) -> Iterator[Page]:
        client, size = self.client(context), self._size(context)
        previous = graph_time(context.cursor.get("newest"))
        stop_before = None if context.full_sweep or previous is None else \
            min(datetime.now(UTC) - context.recheck_window, previous)
        query = urlencode({"author": organization(context.account.id), "q": "author", "count": size,
                           "sortBy": "CREATED"})
        listing = OffsetListing(f"{client.root}/posts?{query}", context.capture.max_pages, stop_before)
        newest = previous
        while not listing.finished:
            assert listing.current is not None
            exchange, body = client.get_json(listing.current)
            yield Page.parsed(exchange, parser.parse)
            posts = [p for p in body.get("elements") or [] if isinstance(p, dict) and isinstance(p.get("id"), str)]
            yield from self._page_extras(client, posts)
            for post in posts:
                stamp = parser.millis(post.get("createdAt"))
                newest = stamp if stamp and (newest is None or stamp > newest) else newest
                if self._commented.get(post["id"], 1) > 0:
                    yield from self._comments(context, client, post["id"])
                else:
                    self._listed.listed(post["id"])
            listing.advance(body)
        context.listed_since = datetime.min.replace(tzinfo=UTC) if listing.reached_end else listing.oldest
        context.next_cursor = {"newest": newest.isoformat() if newest else None}
        context.notes.append(client.summary())
        context.complete = True

    def _page_extras(self, client: RestClient, posts: list[dict[str, Any]]) -> Iterator[Page]:
        """The page's counts (which posts have comments) and its images, a batch call each."""
        self._commented = {}
        if posts:
            exchange, body = client.get_json(f"{client.root}/socialMetadata?ids={batch([p['id'] for p in posts])}")
            yield Page.parsed(exchange, parser.parse)
            results = body.get("results") if isinstance(body.get("results"), dict) else {}
            for urn, meta in results.items():
                summary = meta.get("commentSummary") if isinstance(meta, dict) else None
                if isinstance(summary, dict) and isinstance(summary.get("count"), int):
                    self._commented[urn] = summary["count"]
        owners = {image: post["id"] for post in posts for image in _images(post)}
        if owners:
            url = f"{client.root}/images?ids={batch(list(owners))}#{urlencode(owners)}"
            exchange, _ = client.get_json(url)
            yield Page.parsed(exchange, parser.parse)

    def _comments(self, context: HarvestContext, client: RestClient, target: str) -> Iterator[Page]:
        """Every comment on ``target`` (a post or a comment), page by page, and their replies."""
        pages = OffsetListing(f"{client.root}/socialActions/{quote(target, safe='')}/comments?"
                              f"{urlencode({'count': self._size(context)})}", context.capture.max_pages)
        while not pages.finished:
            assert pages.current is not None
            exchange, body = client.get_json(pages.current)
            page = Page.parsed(exchange, parser.parse)
            observations = page.observations
            yield page
            self._listed.listed(target, (o.platform_id for o in observations))
            for comment in body.get("elements") or []:
                summary = comment.get("commentsSummary") if isinstance(comment, dict) else None
                urn = comment.get("commentUrn") if isinstance(comment, dict) else None
                if isinstance(urn, str) and isinstance(summary, dict) and summary.get("aggregatedTotalComments"):
                    yield from self._comments(context, client, urn)
            pages.advance(body)

    def confirm(self, context: HarvestContext, suspects: list[ItemRef]) -> Iterator[Page]:
        """Ask for each missing post or comment; only its own 404/410 records a deletion. A comment
        is asked only if its post was re-listed in this harvest."""
        client, gone = self.client(context), set()
        for ref in suspects:
            if ref.platform_id in gone or not self._listed.covers(ref, suspects) or (
                    ref.kind != "post" and not ref.parent_id):
                continue
            if ref.kind == "post":
                url = f"{client.root}/posts/{quote(ref.platform_id, safe='')}"
            else:
                comment_id = ref.platform_id.rstrip(")").rsplit(",", 1)[-1]
                url = f"{client.root}/socialActions/{quote(ref.parent_id or '', safe='')}/comments/{comment_id}"
            exchange = client.lookup(url, ref.platform_id)
            if exchange is None:
                continue
            if exchange.response.status != 200 and exchange.response.status not in parser.GONE:
                context.unresolved.append(ref.platform_id)
            page = Page.parsed(exchange, parser.parse)
            observations = page.observations
            yield page
            if any(o.state is VersionState.DELETED for o in observations):  # its comments and replies go with it
                gone.add(ref.platform_id)
                reason = "parent post deleted" if ref.kind == "post" else "parent comment deleted"
                for page in cascade(context, ref.platform_id, reason, exchange, parser.parse, gone):
                    gone.update(o.platform_id for o in page.observations)
                    yield page


def _images(post: dict[str, Any]) -> list[str]:
    """The image URNs a post shows (one image, or a multi-image post)."""
    content = post.get("content") if isinstance(post.get("content"), dict) else {}
    found = []
    media = content.get("media")
    if isinstance(media, dict) and isinstance(media.get("id"), str) and media["id"].startswith("urn:li:image:"):
        found.append(media["id"])
    multi = content.get("multiImage")
    for image in multi.get("images") if isinstance(multi, dict) and isinstance(multi.get("images"), list) else []:
        if isinstance(image, dict) and isinstance(image.get("id"), str):
            found.append(image["id"])
    return found
