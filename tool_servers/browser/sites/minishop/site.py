"""MiniShop served from `http://shop.test/`: search, results, items, "Buy Now".

The catalogue is the generated one (`catalog.generate_products`) or WebShop's own data
(`shop_data=DIR`). A session's goal arrives in its params and never reaches a page except
as the instruction text. Buying ends the episode; `evaluate` scores the purchase with
WebShop's formula (`reward.webshop_reward`), every term a named part; success is R = 1.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import TYPE_CHECKING, Any

from tool_servers.browser.config import BrowserServerConfig
from tool_servers.browser.errors import UnknownTaskError
from tool_servers.browser.sites.base import Episode, Site, SiteRequest, SiteResponse
from tool_servers.browser.sites.minishop import pages
from tool_servers.browser.sites.minishop.catalog import Product, generate_products
from tool_servers.browser.sites.minishop.goals import load_webshop
from tool_servers.browser.sites.minishop.reward import webshop_reward
from tool_servers.schemas import EvaluateResponse

if TYPE_CHECKING:
    from playwright.async_api import Page

    from tool_servers.browser.schemas import BrowserSessionParams

SEARCH_RETURN_N = 50
_ITEM = re.compile(r"^/item/([A-Za-z0-9]{1,16})(?:/(description|features))?/?$")
_BUY = re.compile(r"^/buy/([A-Za-z0-9]{1,16})/?$")


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


class ProductSearch:
    """A small BM25-like ranking over title, type, category and attributes (WebShop uses
    Lucene BM25 over the same fields). Deterministic: ties keep catalogue order."""

    def __init__(self, products: list[Product]) -> None:
        self.products = products
        self.docs = [Counter(_tokens(" ".join((p.title, p.query, p.product_category, *p.attributes))))
                     for p in products]
        df = Counter(token for doc in self.docs for token in doc)
        self.idf = {t: math.log(1 + (len(products) - n + 0.5) / (n + 0.5)) for t, n in df.items()}

    def search(self, query: str, k: int = SEARCH_RETURN_N) -> list[Product]:
        terms = _tokens(query)
        scored = []
        for index, doc in enumerate(self.docs):
            score = sum(self.idf.get(t, 0.0) * doc[t] / (doc[t] + 1.2) for t in terms if t in doc)
            if score > 0:
                scored.append((-score, index))
        return [self.products[i] for _, i in sorted(scored)[:k]]


class MiniShopSite(Site):
    name = "minishop"
    host = "shop.test"

    def __init__(self, products: list[Product]) -> None:
        self.products = {p.asin: p for p in products}
        self.engine = ProductSearch(products)

    @classmethod
    def from_config(cls, config: BrowserServerConfig) -> MiniShopSite:
        if config.shop_data:
            products, _goals = load_webshop(config.shop_data)
            return cls(products)
        return cls(generate_products(config.shop_products, config.shop_seed))

    def task_names(self) -> list[str]:
        return []

    def new_episode(self, params: BrowserSessionParams) -> Episode:
        if params.goal is None:
            raise UnknownTaskError("a minishop session needs a goal (WebShop's goal schema) in its params")
        if params.goal.asin not in self.products:
            raise UnknownTaskError(f"goal product {params.goal.asin!r} is not in this server's catalogue; "
                                   "serve the same catalogue the goals came from (shop_data / shop_seed)")
        return Episode(self.name, params.goal.asin, params.seed, goal_text=params.goal.instruction_text,
                       state={"goal": params.goal.model_dump()})

    def handle(self, episode: Episode | None, request: SiteRequest) -> SiteResponse:
        instruction = episode.goal_text if episode is not None else ""
        params = request.params()
        query = params.pop("q", "")
        try:
            page = max(1, int(params.pop("page", "1") or 1))
        except ValueError:
            page = 1
        if request.path in ("/", "/index.html"):
            return SiteResponse.html(pages.search_page(instruction))
        if request.path == "/search":
            return SiteResponse.html(pages.results_page(instruction, query, page, self.engine.search(query)))
        if match := _ITEM.match(request.path):
            product = self.products.get(match.group(1))
            if product is None:
                return SiteResponse.not_found(request.path)
            chosen = {k: v for k, v in params.items() if v in product.options.get(k, ())}
            if match.group(2):
                return SiteResponse.html(pages.detail_page(instruction, product, match.group(2), query, page, chosen))
            return SiteResponse.html(pages.item_page(instruction, product, query, page, chosen))
        if (match := _BUY.match(request.path)) and request.method == "POST":
            product = self.products.get(match.group(1))
            if product is None:
                return SiteResponse.not_found(request.path)
            chosen = {k: v for k, v in params.items() if v in product.options.get(k, ())}
            if episode is not None and "purchase" not in episode.state:
                episode.state["purchase"] = {"asin": product.asin, "options": chosen, "price": product.price}
            return SiteResponse.html(pages.done_page(instruction, product, chosen))
        return SiteResponse.not_found(request.path)

    async def start(self, page: Page, episode: Episode) -> None:
        await page.goto(f"{self.origin}/", wait_until="load")

    async def status(self, page: Page, episode: Episode) -> dict[str, Any]:
        return {"done": "purchase" in episode.state}

    async def evaluate(self, page: Page, episode: Episode) -> EvaluateResponse:
        purchase = episode.state.get("purchase")
        if purchase is None:
            return EvaluateResponse(reward=0.0, success=False, parts={"purchased": 0.0})
        product = self.products[purchase["asin"]]
        result = webshop_reward(product, episode.state["goal"], purchase["price"], purchase["options"])
        return EvaluateResponse(reward=result.total, success=result.total >= 1.0,
                                parts={"purchased": 1.0, **result.parts()})
