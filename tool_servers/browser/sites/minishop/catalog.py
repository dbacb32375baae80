"""MiniShop's catalogue: products in WebShop's schema, generated offline from a seed.

WebShop's products are Amazon listings: a title, a category path
("Grocery & Gourmet Food › Snacks › Chocolate"), bullet points, a description,
attributes ("gluten free"), customisation options ({"flavor": [...], "size": [...]})
and a price. MiniShop generates the same fields from small per-category vocabularies,
so goals and the reward work exactly as on WebShop, with nothing downloaded and no
product a model could have memorised.

>>> products = generate_products(40, seed=0)
>>> len(products), len({p.category for p in products})
(40, 10)
>>> products == generate_products(40, seed=0)
True
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Product:
    """One product, with WebShop's fields (`Title`, `BulletPoints`, `Description`,
    `Attributes`, `options`, `Price`, `query`, `product_category`)."""

    asin: str
    title: str
    category: str
    query: str
    product_category: str
    price: float
    attributes: tuple[str, ...]
    options: dict[str, tuple[str, ...]] = field(default_factory=dict)
    bullets: tuple[str, ...] = ()
    description: str = ""
    rating: float = 4.0

    @property
    def price_tag(self) -> str:
        return f"${self.price:.2f}"

    def to_dict(self) -> dict[str, Any]:
        return {"asin": self.asin, "name": self.title, "category": self.category, "query": self.query,
                "product_category": self.product_category, "pricing": self.price_tag,
                "attributes": list(self.attributes), "options": {k: list(v) for k, v in self.options.items()},
                "small_description": list(self.bullets), "full_description": self.description,
                "average_rating": self.rating}


@dataclass(frozen=True, slots=True)
class _Category:
    name: str
    path: str
    types: tuple[str, ...]
    attributes: tuple[str, ...]
    options: dict[str, tuple[str, ...]]
    price: tuple[float, float]


_COLORS = ("black", "white", "navy blue", "grey", "red", "green", "beige", "pink", "brown", "purple")
CATEGORIES: tuple[_Category, ...] = (
    _Category("beauty", "Beauty & Personal Care › Skin Care › Face", ("face moisturizer", "facial cleanser",
              "eye cream", "sunscreen lotion", "lip balm"),
              ("fragrance free", "paraben free", "long lasting", "dermatologist tested", "cruelty free",
               "travel size", "hyaluronic acid", "sensitive skin"),
              {"size": ("1 fl oz", "1.7 fl oz", "3.4 fl oz", "6.8 fl oz"), "scent": ("unscented", "lavender",
               "citrus", "rose", "coconut")}, (6, 48)),
    _Category("grocery", "Grocery & Gourmet Food › Snacks › Sweets", ("dark chocolate bar", "granola bar",
              "trail mix", "herbal tea", "peanut butter"),
              ("gluten free", "non gmo", "low sugar", "keto friendly", "individually wrapped", "high protein",
               "plant based", "kosher"),
              {"flavor": ("sea salt", "mint", "almond", "vanilla", "caramel", "honey"),
               "size": ("6 pack", "12 pack", "24 pack")}, (4, 36)),
    _Category("fashion", "Clothing, Shoes & Jewelry › Men › Clothing › Shirts", ("t-shirt", "hoodie",
              "polo shirt", "flannel shirt", "crew neck sweater"),
              ("machine washable", "relaxed fit", "long sleeve", "short sleeve", "cotton blend",
               "moisture wicking", "button down", "quick drying"),
              {"color": _COLORS, "size": ("small", "medium", "large", "x-large", "xx-large")}, (12, 70)),
    _Category("shoes", "Clothing, Shoes & Jewelry › Women › Shoes › Sneakers", ("running shoe", "walking shoe",
              "slip on sneaker", "hiking boot", "ankle boot"),
              ("non slip", "memory foam", "arch support", "lightweight", "rubber sole", "water resistant",
               "breathable mesh", "wide width"),
              {"color": _COLORS, "size": ("6", "7", "7.5", "8", "8.5", "9", "10")}, (25, 120)),
    _Category("home", "Home & Kitchen › Bedding › Sheets & Pillowcases", ("bed sheet set", "pillowcase",
              "duvet cover", "throw blanket", "mattress topper"),
              ("easy care", "deep pocket", "hypoallergenic", "wrinkle free", "breathable", "machine washable",
               "organic cotton", "cooling"),
              {"color": _COLORS, "size": ("twin", "full", "queen", "king")}, (18, 110)),
    _Category("kitchen", "Home & Kitchen › Kitchen & Dining › Cookware", ("frying pan", "saucepan",
              "stock pot", "cast iron skillet", "baking sheet"),
              ("non stick", "dishwasher safe", "oven safe", "induction compatible", "pfoa free",
               "stainless steel", "heat resistant", "easy clean"),
              {"size": ("8 inch", "10 inch", "12 inch"), "color": ("black", "red", "grey", "blue")}, (15, 95)),
    _Category("electronics", "Electronics › Headphones, Earbuds & Accessories › Headphones",
              ("wireless earbuds", "over ear headphones", "bluetooth speaker", "usb c charger", "phone case"),
              ("noise cancelling", "fast charging", "water resistant", "long battery life", "bluetooth 5.0",
               "built in microphone", "high definition", "easy install"),
              {"color": ("black", "white", "blue", "rose gold", "grey")}, (10, 150)),
    _Category("office", "Office Products › Office & School Supplies › Writing", ("gel pen set", "notebook",
              "desk organizer", "sticky notes", "highlighter set"),
              ("quick drying", "acid free", "refillable", "assorted colors", "fine point", "eco friendly",
               "college ruled", "smudge proof"),
              {"pack": ("6 count", "12 count", "24 count", "36 count")}, (3, 30)),
    _Category("pets", "Pet Supplies › Dogs › Toys", ("chew toy", "dog bed", "pet bowl", "dog leash",
              "cat scratcher"),
              ("durable", "non toxic", "easy clean", "machine washable", "for small dogs", "for large dogs",
               "anti slip", "bpa free"),
              {"size": ("small", "medium", "large"), "color": ("blue", "green", "grey", "orange", "pink")}, (7, 60)),
    _Category("sports", "Sports & Outdoors › Exercise & Fitness › Yoga", ("yoga mat", "resistance band",
              "water bottle", "jump rope", "foam roller"),
              ("non slip", "extra thick", "eco friendly", "lightweight", "bpa free", "leak proof", "portable",
               "high density"),
              {"color": ("black", "purple", "blue", "green", "pink", "grey")}, (8, 65)),
)

_BRANDS = ("Lumora", "Brindle & Co", "Halvard", "Quenby", "Orlette", "Tamsin", "Verrow", "Kestrel Home",
           "Pemberly", "Nuvaro", "Ashgrove", "Calder", "Mirabel", "Osterly", "Wrenfield", "Zephra")
_FILLERS = ("for everyday use", "great gift", "premium quality", "classic design", "new edition", "value pack")


def _asin(rng: random.Random, taken: set[str]) -> str:
    while True:
        asin = "B0" + "".join(rng.choices(string.ascii_uppercase + string.digits, k=8))
        if asin not in taken:
            taken.add(asin)
            return asin


def _product(rng: random.Random, category: _Category, asin: str) -> Product:
    kind = rng.choice(category.types)
    attributes = tuple(sorted(rng.sample(category.attributes, rng.randint(2, 4))))
    shown = [a for a in attributes if rng.random() < 0.5]
    brand = rng.choice(_BRANDS)
    title = f"{brand} {' '.join(a.title() for a in shown)} {kind.title()}".replace("  ", " ").strip()
    title += f", {rng.choice(_FILLERS).title()}"
    options = {}
    for name in sorted(rng.sample(sorted(category.options), rng.randint(1, len(category.options)))):
        values = category.options[name]
        options[name] = tuple(rng.sample(values, min(len(values), rng.randint(2, 4))))
    low, high = category.price
    price = round(rng.uniform(low, high), 2)
    bullets = tuple(f"{a.capitalize()}: made to be {a} without compromise." for a in attributes)
    description = (f"The {brand} {kind} is {', '.join(attributes)}. "
                   f"{rng.choice(_FILLERS).capitalize()}; ships in recyclable packaging.")
    return Product(asin=asin, title=title, category=category.name, query=kind,
                   product_category=f"{category.path} › {kind.title()}", price=price, attributes=attributes,
                   options=options, bullets=bullets, description=description,
                   rating=round(rng.uniform(3.0, 5.0), 1))


def generate_products(count: int = 300, seed: int = 0) -> list[Product]:
    """`count` products spread evenly over the ten categories, deterministic per seed."""
    rng = random.Random(f"minishop-{seed}")
    taken: set[str] = set()
    return [_product(rng, CATEGORIES[i % len(CATEGORIES)], _asin(rng, taken)) for i in range(count)]
