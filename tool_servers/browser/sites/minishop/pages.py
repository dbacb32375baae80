"""MiniShop's HTML pages, laid out like WebShop's: search, results, item, item details,
and the confirmation after "Buy Now". Plain HTML and links; no page script.

Every page shows the instruction at the top, as WebShop does. Options are links that
reload the item page with the option chosen (`role="button"`, `aria-pressed` on the
chosen one, so the accessibility tree shows it as pressed); "Buy Now" posts the chosen
options.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from urllib.parse import urlencode

from tool_servers.browser.sites.minishop.catalog import Product

RESULTS_PER_PAGE = 10
_STYLE = """body{font-family:sans-serif;margin:16px;max-width:760px}#instruction{background:#eef;padding:6px}
.item{margin:8px 0}.option{margin-right:6px;padding:2px 6px;border:1px solid #999;text-decoration:none}
.option.selected{background:#333;color:#fff}button{margin:6px 0}"""


def _page(title: str, instruction: str, body: str) -> str:
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body>"
            f"<div id='instruction'>Instruction: {escape(instruction)}</div>{body}</body></html>")


def search_page(instruction: str) -> str:
    body = ("<h1>MiniShop</h1><form action='/search' method='get' role='search'>"
            "<input type='search' name='q' aria-label='Search' placeholder='Search products'> "
            "<button type='submit'>Search</button></form>")
    return _page("MiniShop", instruction, body)


def results_page(instruction: str, query: str, page: int, hits: list[Product]) -> str:
    start = (page - 1) * RESULTS_PER_PAGE
    shown = hits[start:start + RESULTS_PER_PAGE]
    links = ["<a href='/'>Back to Search</a>", f"<p>Page {page} (Total results: {len(hits)})</p>"]
    if page > 1:
        links.append(f"<a href='/search?{urlencode({'q': query, 'page': page - 1})}'>&lt; Prev</a> ")
    if start + RESULTS_PER_PAGE < len(hits):
        links.append(f"<a href='/search?{urlencode({'q': query, 'page': page + 1})}'>Next &gt;</a>")
    items = [f"<div class='item'><a href='/item/{p.asin}?{urlencode({'q': query, 'page': page})}'>{p.asin}</a>"
             f"<div>{escape(p.title)}</div><div>{p.price_tag}</div></div>" for p in shown]
    if not shown:
        items = ["<p>No products match your search.</p>"]
    return _page(f"Results for {query}", instruction, "".join(links) + "".join(items))


def _item_query(query: str, page: int, chosen: Mapping[str, str]) -> dict[str, str | int]:
    return {"q": query, "page": page, **chosen}


def item_page(instruction: str, product: Product, query: str, page: int, chosen: Mapping[str, str]) -> str:
    back = f"/search?{urlencode({'q': query, 'page': page})}" if query else "/"
    parts = ["<a href='/'>Back to Search</a> ", f"<a href='{escape(back)}'>&lt; Prev</a>",
             f"<h1>{escape(product.title)}</h1>", f"<p>Price: {product.price_tag}</p>",
             f"<p>Rating: {product.rating}</p>"]
    for name, values in product.options.items():
        buttons = []
        for value in values:
            picked = chosen.get(name) == value
            href = f"/item/{product.asin}?{urlencode(_item_query(query, page, {**chosen, name: value}))}"
            buttons.append(f"<a class='option{' selected' if picked else ''}' role='button' "
                           f"aria-pressed='{'true' if picked else 'false'}' href='{escape(href)}'>{escape(value)}</a>")
        parts.append(f"<div class='options'><h2>{escape(name)}</h2>{''.join(buttons)}</div>")
    detail = urlencode(_item_query(query, page, chosen))
    parts.append(f"<p><a href='/item/{product.asin}/description?{escape(detail)}'>Description</a> "
                 f"<a href='/item/{product.asin}/features?{escape(detail)}'>Features</a></p>")
    hidden = "".join(f"<input type='hidden' name='{escape(k)}' value='{escape(v)}'>" for k, v in chosen.items())
    parts.append(f"<form action='/buy/{product.asin}' method='post'>{hidden}<button type='submit'>Buy Now</button></form>")
    return _page(product.title, instruction, "".join(parts))


def detail_page(instruction: str, product: Product, which: str, query: str, page: int,
                chosen: Mapping[str, str]) -> str:
    back = f"/item/{product.asin}?{urlencode(_item_query(query, page, chosen))}"
    if which == "features":
        content = "<ul>" + "".join(f"<li>{escape(b)}</li>" for b in product.bullets) + "</ul>"
    else:
        content = f"<p>{escape(product.description)}</p>"
    body = f"<a href='/'>Back to Search</a> <a href='{escape(back)}'>&lt; Prev</a><h1>{which.title()}</h1>{content}"
    return _page(f"{which.title()}: {product.title}", instruction, body)


def done_page(instruction: str, product: Product, chosen: Mapping[str, str]) -> str:
    options = ", ".join(f"{k}: {v}" for k, v in chosen.items()) or "none"
    body = (f"<h1>Thank you for shopping with us!</h1><p>Your order: {product.asin} — {escape(product.title)}</p>"
            f"<p>Options: {escape(options)}</p>")
    return _page("Order placed", instruction, body)
