"""WebShop's reward on crafted goals, term by term; MiniShop's catalogue; the WebShop loader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tool_servers.browser.errors import BrowserConfigError
from tool_servers.browser.sites.minishop import (
    generate_goals,
    generate_products,
    load_webshop,
    webshop_reward,
)
from tool_servers.browser.sites.minishop.catalog import Product

SHIRT = Product(asin="B0SHIRT001", title="Halvard Long Sleeve Flannel Shirt, Classic Design", category="fashion",
                query="flannel shirt", product_category="Clothing › Men › Shirts › Flannel Shirt", price=30.0,
                attributes=("machine washable", "long sleeve"), options={"color": ("red", "navy blue"),
                                                                        "size": ("small", "x-large")},
                bullets=("Cotton blend: soft.",), description="A warm shirt.")
MUG = Product(asin="B0MUG00001", title="Ceramic Coffee Mug", category="kitchen", query="coffee mug",
              product_category="Home › Kitchen › Mugs", price=9.0, attributes=("dishwasher safe",))
GOAL = {"asin": SHIRT.asin, "attributes": ["machine washable", "cotton blend"], "name": SHIRT.title,
        "goal_options": {"color": "navy blue", "size": "x-large"}, "price_upper": 40.0,
        "query": "flannel shirt", "product_category": SHIRT.product_category}


def test_exact_purchase_scores_one_with_every_term() -> None:
    result = webshop_reward(SHIRT, GOAL, 30.0, {"color": "navy blue", "size": "x-large"})
    assert result.total == 1.0
    assert result.parts() == {"r_type": 1.0, "r_attr": 1.0, "r_option": 1.0, "r_price": 1.0, "attr_matches": 2.0,
                              "option_matches": 2.0, "title_score": 1.0, "query_match": 1.0, "category_match": 1.0}


def test_attribute_found_in_bullets_counts() -> None:  # "cotton blend" is not an attribute, but in the bullets
    assert webshop_reward(SHIRT, GOAL, 30.0, {"color": "navy blue", "size": "x-large"}).attr_matches == 2


def test_missing_attribute_lowers_the_attribute_term() -> None:
    goal = {**GOAL, "attributes": ["machine washable", "waterproof"]}
    result = webshop_reward(SHIRT, goal, 30.0, {"color": "navy blue", "size": "x-large"})
    assert (result.attr_matches, result.r_attr, result.total) == (1, 0.5, pytest.approx(4 / 5))


def test_size_must_match_exactly_other_options_fuzzily() -> None:
    wrong_size = webshop_reward(SHIRT, GOAL, 30.0, {"color": "navy blue", "size": "small"})
    assert wrong_size.option_matches == 1 and wrong_size.total == pytest.approx(4 / 5)
    fuzzy_color = webshop_reward(SHIRT, {**GOAL, "goal_options": {"color": "blue navy", "size": "x-large"}},
                                 30.0, {"color": "navy blue", "size": "x-large"})
    assert fuzzy_color.option_matches == 2


def test_price_over_the_cap_loses_the_price_term() -> None:
    result = webshop_reward(SHIRT, GOAL, 45.0, {"color": "navy blue", "size": "x-large"})
    assert (result.r_price, result.total) == (0.0, pytest.approx(4 / 5))


def test_another_product_type_is_scaled_by_the_type_factor() -> None:
    result = webshop_reward(MUG, GOAL, 9.0, {})
    assert result.r_type == 0.0 and result.total == 0.0  # no noun of the goal's name


@pytest.mark.parametrize(("title", "r_type"), [
    ("Halvard Ceramic Mug", 0.5),  # 1 of 7 nouns (> 0.1, ≤ 0.2), no query or category match
    ("Ceramic Coffee Mug", 0.0),  # none of the goal's nouns
])
def test_type_factor_levels(title: str, r_type: float) -> None:
    product = Product(asin="B0X", title=title, category="kitchen", query="mug", product_category="Home › Mugs",
                      price=5.0, attributes=())
    assert webshop_reward(product, GOAL, 5.0, {}).r_type == r_type


def test_reward_is_bounded_and_deterministic_on_generated_goals() -> None:
    products = generate_products(60, seed=3)
    goals = generate_goals(products, seed=3)
    by_asin = {p.asin: p for p in products}
    for goal, other in zip(goals, reversed(products), strict=True):
        product = by_asin[goal["asin"]]
        right = webshop_reward(product, goal, product.price, dict(goal["goal_options"]))
        assert right.total == 1.0
        wrong = webshop_reward(other, goal, other.price, {})
        assert 0.0 <= wrong.total <= 1.0
        assert wrong == webshop_reward(other, goal, other.price, {})


def test_catalogue_has_webshop_fields_and_is_seeded() -> None:
    products = generate_products(300)
    assert len({p.asin for p in products}) == 300 and len({p.category for p in products}) == 10
    assert all(p.attributes and p.options and "›" in p.product_category for p in products)
    assert generate_products(300, seed=1) != products


def _write_webshop(root: Path) -> None:
    items = [{"asin": SHIRT.asin, "name": SHIRT.title, "category": "fashion", "query": "flannel shirt",
              "product_category": SHIRT.product_category, "pricing": "$30.00",
              "customization_options": {"Color": [{"value": "Red"}, {"value": "Navy/Blue"}]},
              "small_description": ["Cotton blend: soft."], "full_description": "A warm shirt."},
             {"asin": "nan", "name": "skipped"}]
    attributes = {SHIRT.asin: {"attributes": ["machine washable"], "instruction": "i want a machine washable shirt.",
                               "instruction_attributes": ["machine washable"]}}
    (root / "items_shuffle_1000.json").write_text(json.dumps(items))
    (root / "items_ins_v2_1000.json").write_text(json.dumps(attributes))


def test_webshop_loader_reads_products_and_goals(tmp_path: Path) -> None:
    _write_webshop(tmp_path)
    products, goals = load_webshop(tmp_path)
    assert [p.asin for p in products] == [SHIRT.asin]
    assert products[0].options == {"color": ("red", "navy | blue")} and products[0].price == 30.0
    assert goals[0]["instruction_text"].startswith("i want a machine washable shirt with color: red")
    assert webshop_reward(products[0], goals[0], 30.0, {"color": "red"}).total == 1.0


def test_webshop_loader_rejects_a_directory_without_data(tmp_path: Path) -> None:
    with pytest.raises(BrowserConfigError, match="items_shuffle"):
        load_webshop(tmp_path)
    with pytest.raises(BrowserConfigError, match="does not exist"):
        load_webshop(tmp_path / "missing")
