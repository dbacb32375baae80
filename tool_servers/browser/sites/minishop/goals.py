"""Shopping goals, generated from MiniShop's products or read from WebShop's files.

A goal (WebShop's schema) names a product type through its instruction, some of the
product's attributes, one value per option and a price cap. `price_upper` follows
WebShop: from the $10 steps above the price, take the first four and keep the larger of
two drawn from them. The draw is seeded, so goals are the same on every machine.

WebShop's own data (not shipped: download it yourself) loads with `load_webshop(DIR)`:
`items_shuffle*.json` (products), `items_ins_v2*.json` (attributes and synthetic
instructions) and, when present, `items_human_ins*.json` (human instructions).

>>> from tool_servers.browser.sites.minishop.catalog import generate_products
>>> goal = generate_goals(generate_products(20))[0]
>>> goal["instruction_text"].startswith("i am looking for")
True
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

from tool_servers.browser.errors import BrowserConfigError
from tool_servers.browser.sites.minishop.catalog import Product

PRICE_STEPS = [10.0 * i for i in range(1, 100)]


def price_upper(price: float, rng: random.Random) -> float | None:
    steps = [p for p in PRICE_STEPS if p > price][:4]
    if len(steps) < 2:
        return None
    return max(rng.sample(steps, 2))


def goal_for(product: Product, rng: random.Random) -> dict[str, Any]:
    """One goal for `product`: 1–3 of its attributes, one value per option, a price cap."""
    attributes = sorted(rng.sample(product.attributes, min(len(product.attributes), rng.randint(1, 3))))
    options = {name: rng.choice(values) for name, values in sorted(product.options.items())}
    cap = price_upper(product.price, rng)
    text = f"i am looking for a {' and '.join(attributes)} {product.query}"
    if options:
        text += " with " + ", and ".join(f"{k}: {v}" for k, v in options.items())
    if cap is not None:
        text += f", and price lower than {cap:.2f} dollars"
    return {"asin": product.asin, "instruction_text": text, "attributes": attributes, "goal_options": options,
            "price_upper": cap if cap is not None else 1_000_000.0, "query": product.query,
            "name": product.title, "product_category": product.product_category, "category": product.category}


def generate_goals(products: list[Product], seed: int = 0) -> list[dict[str, Any]]:
    """One goal per product, deterministic per seed."""
    rng = random.Random(f"minishop-goals-{seed}")
    return [goal_for(product, rng) for product in products]


# ---- WebShop's files -------------------------------------------------------------------
def _one(directory: Path, pattern: str, required: bool = True) -> Path | None:
    found = sorted(directory.glob(pattern))
    if not found and required:
        raise BrowserConfigError(f"no {pattern} in {directory}: point shop_data at WebShop's data directory "
                                 "(items_shuffle_1000.json, items_ins_v2_1000.json)")
    return found[0] if found else None


def _price(pricing: Any) -> float:
    if isinstance(pricing, list) and pricing:
        return float(pricing[0])
    numbers = re.findall(r"\$\s*([\d,]*\.?\d+)", str(pricing or ""))
    return float(numbers[0].replace(",", "")) if numbers else 100.0


def _webshop_product(raw: dict[str, Any], attributes: dict[str, Any]) -> Product:
    options: dict[str, tuple[str, ...]] = {}
    for name, contents in (raw.get("customization_options") or {}).items():
        if contents:
            options[name.lower()] = tuple(str(c["value"]).strip().replace("/", " | ").lower() for c in contents)
    bullets = raw.get("small_description") or []
    return Product(
        asin=raw["asin"], title=raw.get("name") or "", category=raw.get("category") or "",
        query=str(raw.get("query") or "").lower().strip(), product_category=raw.get("product_category") or "",
        price=_price(raw.get("pricing")),
        attributes=tuple(attributes.get(raw["asin"], {}).get("attributes") or ("DUMMY_ATTR",)),
        options=options, bullets=tuple(bullets if isinstance(bullets, list) else [bullets]),
        description=raw.get("full_description") or "")


def load_webshop(directory: str | Path, *, limit: int | None = None, human_goals: bool = True,
                 seed: int = 0) -> tuple[list[Product], list[dict[str, Any]]]:
    """Products and goals from WebShop's data directory (see the module docstring).

    Human goals (`items_human_ins*.json`) are used when present and `human_goals`; otherwise
    the synthetic ones (each product's `instruction`, with its first option values).
    Prices are the low end of each product's price range (WebShop draws one at random).
    """
    root = Path(directory).expanduser()
    if not root.is_dir():
        raise BrowserConfigError(f"WebShop data directory {root} does not exist")
    items_path = _one(root, "items_shuffle*.json")
    attrs_path = _one(root, "items_ins_v2*.json")
    assert items_path is not None and attrs_path is not None
    try:
        raw_items = json.loads(items_path.read_text())
        attributes = json.loads(attrs_path.read_text())
    except (OSError, ValueError) as exc:
        raise BrowserConfigError(f"cannot read WebShop data in {root}: {exc}") from exc
    products: list[Product] = []
    seen: set[str] = set()
    for raw in raw_items[:limit] if limit else raw_items:
        asin = str(raw.get("asin", ""))
        if not asin or asin == "nan" or len(asin) > 10 or asin in seen:
            continue
        seen.add(asin)
        products.append(_webshop_product(raw, attributes))
    human_path = _one(root, "items_human_ins*.json", required=False)
    rng = random.Random(f"webshop-goals-{seed}")
    goals: list[dict[str, Any]] = []
    human = json.loads(human_path.read_text()) if human_goals and human_path is not None else None
    for product in products:
        entries = (human or {}).get(product.asin, []) if human is not None else [attributes.get(product.asin, {})]
        for entry in entries:
            instruction = entry.get("instruction")
            wanted = entry.get("instruction_attributes") or []
            if not instruction or not wanted:
                continue
            options: dict[str, str] | list[str] = (
                list(entry.get("instruction_options") or []) if human is not None
                else {name: values[0] for name, values in sorted(product.options.items())})
            cap = price_upper(product.price, rng)
            text = instruction.strip(".")
            if isinstance(options, dict) and options:
                text += " with " + ", and ".join(f"{k}: {v}" for k, v in options.items())
            if cap is not None:
                text += f", and price lower than {cap:.2f} dollars"
            goals.append({"asin": product.asin, "instruction_text": text, "attributes": list(wanted),
                          "goal_options": options, "price_upper": cap if cap is not None else 1_000_000.0,
                          "query": product.query, "name": product.title,
                          "product_category": product.product_category, "category": product.category})
    return products, goals
