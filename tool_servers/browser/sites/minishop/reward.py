"""WebShop's reward for a purchase, each term kept as a named part.

    R = r_type · (N_attr + N_opt + 1[price ≤ price_upper]) / (|goal attributes| + |goal options| + 1)

- **Attributes**: a goal attribute matches when `fuzz.token_set_ratio` with one of the
  product's attributes is > 85, or when it appears in the title, the bullet points or
  the description (lowercased).
- **Options**: each *purchased* option value matches when it is in the goal's options
  (exactly, for `size`) or fuzzily (> 85) for other option names, or when it appears in
  the title, bullets or description.
- **Type** (`r_type`): 1, lowered to 0.5 when neither the query, nor ≥ 2 category-path
  levels, nor > 20 % of the goal name's nouns match; 0.1 below 10 % nouns; 0 at none.

One deviation from WebShop: it finds nouns with spaCy's `en_core_web_lg`, which is not
available offline; here a "noun" is a content word (letters only, ≥ 3 characters, not a
stop word), which gives the same title score for the same product and a lower one for
another product type.

>>> from tool_servers.browser.sites.minishop.catalog import generate_products
>>> product = generate_products(1)[0]
>>> goal = {"attributes": list(product.attributes[:2]), "name": product.title, "query": product.query,
...         "product_category": product.product_category, "price_upper": product.price + 10,
...         "goal_options": {k: v[0] for k, v in product.options.items()}}
>>> webshop_reward(product, goal, product.price, {k: v[0] for k, v in product.options.items()}).total
1.0
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from rapidfuzz import fuzz

from tool_servers.browser.sites.minishop.catalog import Product

EXACT_MATCH_OPTIONS = ("size",)
MATCH_THRESHOLD = 85
_STOP = frozenset(["a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "in", "is", "it", "its", "of", "on", "or", "that", "the", "to", "with", "without", "your", "you", "this", "these", "those", "new", "pack", "count", "set"])


@dataclass(frozen=True, slots=True)
class RewardParts:
    total: float
    r_type: float
    r_attr: float
    r_option: float
    r_price: float
    attr_matches: int
    option_matches: int
    title_score: float
    query_match: bool
    category_match: bool

    def parts(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items() if k != "total"}


def nouns(text: str) -> list[str]:
    """Content words of a product name (the offline stand-in for spaCy's nouns)."""
    return [w for w in re.findall(r"[a-z]+", text.lower()) if len(w) >= 3 and w not in _STOP]


def type_reward(product: Product, goal: Mapping[str, Any]) -> tuple[float, float, bool, bool]:
    """(r_type, title_score, query_match, category_match), as WebShop's `get_type_reward`."""
    query_match = product.query.lower().strip() == str(goal.get("query", "")).lower().strip()
    bought = {x.strip() for x in product.product_category.split("›")}
    wanted = {x.strip() for x in str(goal.get("product_category", "")).split("›")}
    category_match = len(bought & wanted) >= 2
    desired = nouns(str(goal.get("name", "")))
    title_score = 0.2 if not desired else len(set(nouns(product.title)) & set(desired)) / len(desired)
    r_type = 1.0
    if not (query_match or category_match or title_score > 0.2):
        r_type = 0.5
    if title_score < 0.1:
        r_type = 0.1
    if title_score == 0.0:
        r_type = 0.0
    return r_type, title_score, query_match, category_match


def _in_text(value: str, product: Product) -> bool:
    return (value in product.title.lower() or value in " ".join(product.bullets).lower()
            or value in product.description.lower())


def attribute_matches(product: Product, goal_attributes: Sequence[str]) -> int:
    matches = 0
    for wanted in goal_attributes:
        fuzzy = any(fuzz.token_set_ratio(have, wanted) > MATCH_THRESHOLD for have in product.attributes)
        if fuzzy or _in_text(wanted, product):
            matches += 1
    return matches


def option_matches(product: Product, goal_options: Sequence[str], bought: Mapping[str, str]) -> int:
    wanted = [o.lower().strip() for o in goal_options]
    matches = 0
    for name, value in bought.items():
        value = value.lower().strip()
        if name.lower() in EXACT_MATCH_OPTIONS:
            matched = value in wanted
        else:
            matched = any(fuzz.token_set_ratio(goal, value) > MATCH_THRESHOLD for goal in wanted)
        if matched or _in_text(value, product):
            matches += 1
    return matches


def webshop_reward(product: Product, goal: Mapping[str, Any], price: float,
                   options: Mapping[str, str]) -> RewardParts:
    """Score buying `product` at `price` with `options` against `goal` (WebShop's fields:
    attributes, goal_options, price_upper, query, name, product_category)."""
    goal_options = goal.get("goal_options") or {}
    wanted_options = list(goal_options.values()) if isinstance(goal_options, Mapping) else list(goal_options)
    attributes = list(goal.get("attributes") or [])
    r_type, title_score, query_match, category_match = type_reward(product, goal)
    price_ok = price <= float(goal.get("price_upper", 1_000_000.0))
    n_attr = attribute_matches(product, attributes)
    n_opt = option_matches(product, wanted_options, options)
    denominator = len(attributes) + len(wanted_options) + 1
    total = r_type * (n_attr + n_opt + float(price_ok)) / denominator
    return RewardParts(
        total=round(total, 6), r_type=r_type, r_attr=n_attr / len(attributes) if attributes else 1.0,
        r_option=n_opt / len(wanted_options) if wanted_options else 1.0, r_price=float(price_ok),
        attr_matches=n_attr, option_matches=n_opt, title_score=title_score,
        query_match=query_match, category_match=category_match)
